const isNumber = require("is-number");
console.log(`hello 1.0.0, 7 is a number: ${isNumber(7)}`);
