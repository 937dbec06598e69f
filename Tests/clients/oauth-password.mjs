// node oauth-password.mjs <issuer> <username> <password>: the password grant as the public client openhvx-cli (no secret), a
// refresh, the refresh token revoked (RFC 7009), and that refresh token tried again. Prints the tokens and the refusal.
import { client, discover, errorOf, report, run } from './oauth-common.mjs';

run(async () => {
  const [issuer, username, password] = process.argv.slice(2);
  const config = await discover(issuer, 'openhvx-cli');
  const first = await client.genericGrantRequest(config, 'password', { username, password });
  const refreshed = await client.refreshTokenGrant(config, first.refresh_token);
  await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' });
  const refusal = await errorOf(client.refreshTokenGrant(config, refreshed.refresh_token));
  report({ first_access_token: first.access_token, access_token: refreshed.access_token, scope: refreshed.scope, refresh_after_revocation: refusal });
});
