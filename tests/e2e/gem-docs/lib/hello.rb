# Says hello.
module Hello
  # The greeting, with the gem's version.
  def self.greeting
    "hello 1.0.0"
  end
end
