// node oauth-device.mjs <issuer> <file> [scope]: the device authorization grant (RFC 8628) as openhvx-cli. Writes the device
// authorization answer (user_code, verification_uri) to <file> for whoever signs in, polls the token endpoint until then, and
// prints the tokens.
import { writeFile } from 'node:fs/promises';
import { client, discover, report, run } from './oauth-common.mjs';

run(async () => {
  const [issuer, file, scope] = process.argv.slice(2);
  const config = await discover(issuer, 'openhvx-cli');
  const device = await client.initiateDeviceAuthorization(config, scope ? { scope } : {});
  await writeFile(file, JSON.stringify(device));
  const tokens = await client.pollDeviceAuthorizationGrant(config, device);
  report({ access_token: tokens.access_token, refresh_token: tokens.refresh_token, scope: tokens.scope });
});
