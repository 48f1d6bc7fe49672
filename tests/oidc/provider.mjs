// An OpenID Connect provider for the single sign-on tests (the npm oidc-provider package, with its
// development login form: any login name is accepted, and becomes the person's subject). It prints
// "listening on URL" once it answers. Arguments: port, the coordinator's callback URL, its logout return.
import Provider from "oidc-provider";

const [port, redirectUri, logoutUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: "coordinator", client_secret: "a-client-secret-for-tests", redirect_uris: [redirectUri],
    post_logout_redirect_uris: [logoutUri], response_types: ["code"], grant_types: ["authorization_code"],
  }],
  // The login name is the subject; "stranger" has no e-mail address, to test a missing claim.
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return id === "stranger" ? {sub: id} : {sub: id, email: `${id}@example.org`, name: `${id} (from the provider)`};
      },
    };
  },
  claims: {openid: ["sub"], email: ["email"], profile: ["name"]},
  features: {devInteractions: {enabled: true}, rpInitiatedLogout: {enabled: true}},
  cookies: {keys: ["a-cookie-key-for-tests"]},
});
provider.listen(Number(port), "127.0.0.1", () => console.log(`listening on ${issuer}`));
