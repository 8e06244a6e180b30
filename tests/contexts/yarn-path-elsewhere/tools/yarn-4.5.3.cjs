// A yarn release kept out of .yarn, as yarnPath names it.
