declare const process: { argv: string[] };

const version: string = "hello 1.0.0";
if (process.argv.includes("--version")) {
  console.log(version);
} else {
  console.log(`${version}: nothing to serve here`);
}
