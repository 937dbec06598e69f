// Validates an OpenAPI document (a file, or a URL to fetch) against the official OpenAPI 3.x JSON schemas, with an
// independent validator (@seriousme/openapi-schema-validator). Prints {valid, version, errors} as JSON; exit 0 when valid.
import { readFile } from "node:fs/promises";
import { Validator } from "@seriousme/openapi-schema-validator";

const source = process.argv[2];
const text = /^https?:\/\//.test(source) ? await (await fetch(source)).text() : await readFile(source, "utf8");
const validator = new Validator();
const result = await validator.validate(JSON.parse(text));
console.log(JSON.stringify({ valid: result.valid, version: validator.version, errors: result.errors ?? [] }));
process.exit(result.valid ? 0 : 1);
