// node oauth-client-credentials.mjs <issuer> <client id> <secret>: a confidential client's token without any audience field,
// introspected (active), revoked (RFC 7009), introspected again (inactive). Prints the access token and both answers.
import { client, discover, report, run } from './oauth-common.mjs';

run(async () => {
  const [issuer, clientId, secret] = process.argv.slice(2);
  const config = await discover(issuer, clientId, secret);
  const tokens = await client.clientCredentialsGrant(config);
  const before = await client.tokenIntrospection(config, tokens.access_token);
  await client.tokenRevocation(config, tokens.access_token, { token_type_hint: 'access_token' });
  const after = await client.tokenIntrospection(config, tokens.access_token);
  report({ access_token: tokens.access_token, scope: tokens.scope, introspected: before, introspected_after_revocation: after });
});
