Gem::Specification.new do |s|
  s.name = "hello"
  s.version = "1.0.0"
  s.summary = "Says hello"
  s.authors = ["dockopt"]
  s.license = "MIT"
  s.files = ["lib/hello.rb"]
end
