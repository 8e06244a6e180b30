require "bundler/setup"
require "greet"

puts Greet.hello
