// node oauth-discovery.mjs <issuer>: discovery as openid-client does it (the issuer must be the URL discovered); prints the metadata.
import { discover, report, run } from './oauth-common.mjs';

run(async () => {
  const config = await discover(process.argv[2], 'openhvx-cli');
  report(config.serverMetadata());
});
