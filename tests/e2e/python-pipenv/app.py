import six

print(f"hello 1.0.0 with six {six.__version__}")
