// A real OpenID Connect provider on loopback, standing in for Google in the tests
// (tests/federation/conftest.py starts it). panva's oidc-provider (OpenID Certified) does the
// protocol: discovery, JWKS, /auth with PKCE, the login and consent pages (devInteractions),
// the code exchange and signed ID tokens. Only the /__test/ routes below are ours: they let a
// test create the provider's accounts and break the provider's endpoints on purpose.
//
// Environment: PORT, PROVIDER_JWKS (private JWK set, JSON), PROVIDER_CLIENTS (JSON array).
import http from "node:http";
import Provider from "oidc-provider";

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = new Map(); // sub -> claims
const state = { jwksOverride: null, failing: new Set(), requests: { discovery: 0, jwks: 0 } };

const provider = new Provider(issuer, {
  clients: JSON.parse(process.env.PROVIDER_CLIENTS),
  jwks: JSON.parse(process.env.PROVIDER_JWKS),
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, ...(accounts.get(sub) ?? {}) }),
  }),
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  // Like Google: the ID token carries the claims of its scopes.
  conformIdTokenClaims: false,
  // Dynamic registration (RFC 7591): a test registers the callback of a server it started on a free port.
  features: { devInteractions: { enabled: true }, registration: { enabled: true } },
  cookies: { keys: ["test-provider-cookie-key"] },
  ttl: { IdToken: 3600, AccessToken: 3600, AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600 },
  // Sign in and consent (devInteractions) are enough; any consent is granted in full.
  loadExistingGrant: async (ctx) => {
    const grant = new provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(ctx.oidc.params.scope ?? "openid");
    await grant.save();
    return grant;
  },
});
provider.proxy = false;

provider.use(async (ctx, next) => {
  if (ctx.path === "/__test/accounts" && ctx.method === "POST") {
    const body = JSON.parse(await readBody(ctx.req));
    accounts.set(body.sub, body.claims ?? {});
    ctx.status = 204;
    return;
  }
  if (ctx.path === "/__test/jwks" && ctx.method === "POST") {
    const body = JSON.parse(await readBody(ctx.req));
    state.jwksOverride = body.keys ? body : null;
    ctx.status = 204;
    return;
  }
  if (ctx.path === "/__test/fail" && ctx.method === "POST") {
    state.failing = new Set(JSON.parse(await readBody(ctx.req)).paths ?? []);
    ctx.status = 204;
    return;
  }
  if (ctx.path === "/__test/requests") {
    ctx.body = state.requests;
    return;
  }
  if (ctx.path === "/__test/reset" && ctx.method === "POST") {
    accounts.clear();
    state.jwksOverride = null;
    state.failing = new Set();
    state.requests = { discovery: 0, jwks: 0 };
    ctx.status = 204;
    return;
  }
  if (ctx.path === "/.well-known/openid-configuration") state.requests.discovery += 1;
  if (ctx.path === "/jwks") state.requests.jwks += 1;
  if (state.failing.has(ctx.path)) {
    ctx.status = 500;
    ctx.body = "failing on purpose";
    return;
  }
  if (ctx.path === "/jwks" && state.jwksOverride) {
    ctx.body = state.jwksOverride;
    return;
  }
  await next();
});

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = "";
    req.on("data", (chunk) => (data += chunk));
    req.on("end", () => resolve(data || "{}"));
    req.on("error", reject);
  });
}

http.createServer(provider.callback()).listen(port, "127.0.0.1", () => {
  console.log(`test provider listening at ${issuer}`);
});
