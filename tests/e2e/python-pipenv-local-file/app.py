from greet import greeting

print(greeting("pipenv"))
