// The citizen page: sign in with the configured OpenID provider (authorization code flow
// with PKCE, as a public client: no secret exists to leak), list my licences, download.
// The token lives in sessionStorage only: gone when the tab closes, never in a cookie,
// so it is never sent anywhere except as the Authorization header we add.
import { formatDate, startLanguage, t, typeName } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const config = {
  issuer: document.body.dataset.oidcIssuer,
  clientId: document.body.dataset.oidcClientId,
  audience: document.body.dataset.oidcAudience,
};
const TOKEN_KEY = "certseal.token";
const PENDING_KEY = "certseal.signin";
let licences = null; // redrawn when the language changes
let failure = null;

function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function s256(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return base64url(new Uint8Array(digest));
}

// Reads claims without checking the signature: only to pick the token meant for the API
// and to know when it expires. The API checks every token it is given.
function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

function audiences(claims) {
  if (!claims) return [];
  return Array.isArray(claims.aud) ? claims.aud : [claims.aud];
}

function redirectUri() {
  return `${window.location.origin}/me`;
}

async function discover() {
  const issuer = config.issuer.replace(/\/$/, "");
  const response = await fetch(`${issuer}/.well-known/openid-configuration`,
    { credentials: "omit", cache: "no-store" });
  if (!response.ok) throw new Error("discovery failed");
  const metadata = await response.json();
  if (metadata.issuer !== config.issuer) throw new Error("discovery names another issuer");
  return metadata;
}

async function signIn() {
  failure = null;
  setStatus(t("me.signing_in"));
  try {
    const metadata = await discover();
    const pending = { verifier: randomString(), state: randomString(), nonce: randomString(),
      tokenEndpoint: metadata.token_endpoint, endSession: metadata.end_session_endpoint || "" };
    sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
    const url = new URL(metadata.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: "code", client_id: config.clientId, redirect_uri: redirectUri(),
      scope: "openid", state: pending.state, nonce: pending.nonce,
      code_challenge: await s256(pending.verifier), code_challenge_method: "S256",
    }).toString();
    window.location.assign(url.toString());
  } catch {
    showFailure("me.error.signin");
  }
}

// Back from the provider with ?code=...&state=...: exchange the code for tokens.
async function finishSignIn(params) {
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
  sessionStorage.removeItem(PENDING_KEY);
  window.history.replaceState(null, "", "/me"); // the code is single-use: drop it from the URL
  if (!pending || params.get("state") !== pending.state || params.get("error")) {
    throw new Error("sign-in refused or not started here");
  }
  const response = await fetch(pending.tokenEndpoint, {
    method: "POST", credentials: "omit", cache: "no-store",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", code: params.get("code"), redirect_uri: redirectUri(),
      client_id: config.clientId, code_verifier: pending.verifier,
    }),
  });
  if (!response.ok) throw new Error("token endpoint refused the code");
  const tokens = await response.json();
  const idClaims = tokens.id_token ? claimsOf(tokens.id_token) : null;
  if (idClaims && idClaims.nonce !== pending.nonce) throw new Error("nonce mismatch");
  // The API accepts the token whose audience is its own: the access token when the
  // provider issues it for the API, else the ID token (audience = this client).
  const candidates = [tokens.access_token, tokens.id_token].filter(Boolean);
  const token = candidates.find((c) => audiences(claimsOf(c)).includes(config.audience))
    || tokens.id_token || tokens.access_token;
  const claims = claimsOf(token);
  if (!token || !claims) throw new Error("no usable token");
  sessionStorage.setItem(TOKEN_KEY, JSON.stringify({
    token, subject: claims.sub, expires: claims.exp || 0, endSession: pending.endSession,
    idToken: tokens.id_token || "",
  }));
}

function session() {
  const stored = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || "null");
  if (stored && stored.expires && stored.expires * 1000 < Date.now()) {
    sessionStorage.removeItem(TOKEN_KEY);
    failure = "me.error.session";
    return null;
  }
  return stored;
}

function signOut() {
  const stored = session();
  sessionStorage.removeItem(TOKEN_KEY);
  licences = null;
  if (stored?.endSession) {
    const url = new URL(stored.endSession);
    url.search = new URLSearchParams({
      client_id: config.clientId, post_logout_redirect_uri: redirectUri(),
      ...(stored.idToken ? { id_token_hint: stored.idToken } : {}),
    }).toString();
    window.location.assign(url.toString());
    return;
  }
  draw();
}

function masked(identifier) {
  if (!identifier || identifier.length < 10) return identifier || "";
  return identifier.slice(0, 6) + "*".repeat(identifier.length - 10) + identifier.slice(-4);
}

function setStatus(text) {
  $("me-status").textContent = text;
}

function showFailure(key) {
  failure = key;
  setStatus("");
  draw();
}

async function authorised(path) {
  const stored = session();
  if (!stored) throw Object.assign(new Error("signed out"), { status: 401 });
  const response = await fetch(path, {
    headers: { Authorization: `Bearer ${stored.token}` }, credentials: "omit", cache: "no-store",
  });
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    throw Object.assign(new Error("token refused"), { status: 401 });
  }
  if (!response.ok) throw Object.assign(new Error("failed"), { status: response.status });
  return response;
}

async function loadLicences() {
  setStatus(t("me.loading"));
  try {
    const response = await authorised("/v1/me/licences");
    licences = (await response.json()).licences;
    failure = null;
  } catch (error) {
    licences = null;
    failure = error.status === 401 ? "me.error.session" : "me.error.load";
  }
  setStatus("");
  draw();
}

async function download(licence, button) {
  button.disabled = true;
  try {
    const response = await authorised(licence.pdf);
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = `${licence.licence_id}.pdf`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    failure = error.status === 401 ? "me.error.session" : "me.error.download";
    draw();
  } finally {
    button.disabled = false;
  }
}

const COLUMNS = ["me.col.type", "me.col.id", "me.col.holder", "me.col.valid"];

function licenceRow(licence) {
  const row = document.createElement("tr");
  row.dataset.licenceId = licence.licence_id;
  const cells = [
    typeName(licence.type, licence.type),
    licence.licence_id,
    licence.holder_name,
    `${formatDate(licence.valid_from)} – ${licence.valid_until ? formatDate(licence.valid_until)
      : t("field.valid_until.none")}`,
  ];
  cells.forEach((text, index) => {
    const cell = document.createElement("td");
    cell.textContent = text;
    cell.dataset.label = t(COLUMNS[index]);  // the card's label at phone width
    if (index === 1) cell.className = "mono";
    row.append(cell);
  });
  const status = document.createElement("td");
  status.dataset.label = t("me.col.status");
  const badge = document.createElement("span");
  badge.className = `status status-${licence.status}`;
  badge.textContent = t(`status.${licence.status}`);
  status.append(badge);
  const action = document.createElement("td");
  action.className = "action";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button button-small download";
  button.textContent = t("me.download");
  button.setAttribute("aria-label", `${t("me.download")} ${licence.licence_id}`);
  button.addEventListener("click", () => download(licence, button));
  action.append(button);
  row.append(status, action);
  return row;
}

function draw() {
  const configured = Boolean(config.issuer && config.clientId);
  const stored = configured ? session() : null;
  $("signed-out").hidden = Boolean(stored) || !configured;
  $("signed-in").hidden = !stored;
  $("subject").textContent = stored ? masked(stored.subject) : "";
  const error = configured ? failure : "me.unavailable";
  $("me-error").hidden = !error;
  $("me-error").textContent = error ? t(error) : "";
  const panel = $("licences-panel");
  panel.hidden = !(stored && licences);
  if (stored && licences) {
    $("licence-count").textContent = t("me.count", { count: licences.length });
    $("licences").hidden = !licences.length;
    $("licences-empty").hidden = Boolean(licences.length);
    $("licences").tBodies[0].replaceChildren(...licences.map(licenceRow));
  }
}

async function start() {
  const params = new URLSearchParams(window.location.search);
  if (config.issuer && (params.has("code") || params.has("error"))) {
    try {
      await finishSignIn(params);
    } catch {
      failure = "me.error.signin";
    }
  }
  draw();
  if (session()) await loadLicences();
}

$("signin").addEventListener("click", signIn);
$("signout").addEventListener("click", signOut);
startLanguage(draw).catch(() => {}).then(start).then(() => {
  document.body.dataset.ready = "true";
});
