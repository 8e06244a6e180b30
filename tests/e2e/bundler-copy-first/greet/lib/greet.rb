module Greet
  def self.hello
    "hello from greet 1.0.0"
  end
end
