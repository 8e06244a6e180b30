const ms = require("ms");
console.log(`a day is ${ms("1d")} ms`);
