// Shared by the oauth-*.mjs scripts: discovery with openid-client (its issuer check included) and the result line.
import * as client from 'openid-client';

// The test gateway speaks plain HTTP on a loopback address.
const insecure = { execute: [client.allowInsecureRequests] };

export async function discover(issuer, clientId, secret) {
  const auth = secret ? client.ClientSecretPost(secret) : client.None();
  return client.discovery(new URL(issuer), clientId, secret ? { client_secret: secret } : undefined, auth, insecure);
}

// The OAuth error of a refused request (ResponseBodyError), or the message of any other failure.
export async function errorOf(promise) {
  try {
    await promise;
    return null;
  } catch (e) {
    return e.error ?? e.code ?? e.message;
  }
}

export function report(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
}

export function run(main) {
  main().catch((e) => {
    process.stderr.write(`${e.name}: ${e.message} ${e.code ?? ''} ${e.error ?? ''} ${e.error_description ?? ''}\n${e.stack}\n`);
    process.exit(1);
  });
}

export { client };
