Gem::Specification.new do |s|
  s.name = "greet"
  s.version = "1.0.0"
  s.summary = "Says hello"
  s.authors = ["dockopt"]
  s.files = ["lib/greet.rb"]
  s.license = "MIT"
end
