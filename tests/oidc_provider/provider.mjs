// A real OpenID Connect provider for onfile's tests: panva's oidc-provider (OpenID Certified),
// listening on loopback only. Usage: node provider.mjs CONFIG.json
//
// CONFIG: {"issuer": "http://127.0.0.1:PORT", "port": PORT, "clients": [...client metadata],
//          "accountsFile": "accounts.json"}
// accounts.json maps a login name to its claims ({"email", "email_verified", "name", "groups"}),
// and is read again at every sign-in so that tests can add people while the provider runs.
// Sign-in uses the library's development interactions: a login form that accepts any password
// for a login that exists in accounts.json, then a consent form.
// An account's optional "amr" (a list, RFC 8176) and "acr" say how its sign-in authenticated: like
// a real provider, they reach the ID token from the sign-in (the session), not as account claims;
// without them the ID token has no amr / acr.
import fs from 'node:fs';
import http from 'node:http';
import { randomUUID } from 'node:crypto';

import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

async function signingKey(alg, kid) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
}

const jwks = { keys: [await signingKey('RS256', 'test-rs256'), await signingKey('ES256', 'test-es256')] };

function accounts() {
  return JSON.parse(fs.readFileSync(config.accountsFile, 'utf8'));
}

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks,
  cookies: { keys: [randomUUID()] },
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: { openid: ['sub', 'amr', 'acr'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const account = accounts()[id];
    if (!account) return undefined;
    const { amr, acr, ...claims } = account;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
});

// The development login form finishes with { login: { accountId } }; add the account's amr / acr.
const interactionFinished = provider.interactionFinished.bind(provider);
provider.interactionFinished = async (req, res, result, options) => {
  const account = result?.login ? accounts()[result.login.accountId] : undefined;
  if (account?.amr) result.login.amr = account.amr;
  if (account?.acr) result.login.acr = account.acr;
  return interactionFinished(req, res, result, options);
};

const server = http.createServer(provider.callback());
server.listen(config.port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${config.issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
