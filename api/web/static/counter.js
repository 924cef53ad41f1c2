// The counter page: send a PDF, a photo of the QR code or the QR text to POST /v1/verify
// and show the report — one verdict first, then the licence details to compare with the
// paper, who sealed it under which trust list, and the detailed checks.
import { currentLanguage, formatDate, formatDateTime, startLanguage, t, typeName } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const ICONS = { valid: "✓", invalid: "✕", indeterminate: "?" };
const OUTCOME_ICONS = { passed: "✓", failed: "✕", indeterminate: "?", not_applicable: "–" };
const SEVERITY = { failed: 0, indeterminate: 1, passed: 2, not_applicable: 3 };
let shown = null; // { report } or { error } — redrawn when the language changes

function field(list, label, value, options = {}) {
  if (value === undefined || value === null || value === "") return;
  const term = document.createElement("dt");
  term.textContent = label;
  const description = document.createElement("dd");
  description.textContent = value;
  if (options.mono) description.classList.add("mono");
  if (options.lang) description.lang = options.lang;
  if (options.id) description.dataset.field = options.id;
  list.append(term, description);
}

// The server's check messages come in Simplified Chinese and English. Traditional
// Chinese readers get the Simplified text, marked as such (lang attribute and a note):
// a character-by-character conversion in the browser would be wrong for many terms.
function message(check) {
  if (currentLanguage() === "en") return { text: check.message_en, lang: "en" };
  return { text: check.message_zh, lang: "zh-Hans" };
}

function drawLicence(licence) {
  const list = $("licence-fields");
  list.replaceChildren();
  $("licence-panel").hidden = !licence;
  $("licence-hidden").hidden = true;
  if (!licence) return;
  // A QR carries the type's code only: its name comes from the catalogue.
  field(list, t("field.type_name"), typeName(licence.type_code, licence.type_name));
  field(list, t("field.licence_id"), licence.licence_id, { mono: true, id: "licence_id" });
  field(list, t("field.holder_name"), licence.holder_name, { id: "holder_name" });
  field(list, t("field.holder_id_masked"), licence.holder_id_masked, { mono: true });
  field(list, t("field.valid_from"), formatDate(licence.valid_from));
  field(list, t("field.valid_until"),
    licence.valid_until ? formatDate(licence.valid_until) : t("field.valid_until.none"));
  field(list, t("field.issuer_name"), licence.issuer_name);
  field(list, t("field.issuer_uscc"), licence.issuer_uscc, { mono: true });
  field(list, t("field.issued_at"), formatDateTime(licence.issued_at));
  // Every field as sealed (PDF): the field names are the licence type's own.
  for (const [name, value] of Object.entries(licence.data || {})) {
    field(list, name, fieldText(value), { id: `data.${name}`, lang: "zh-Hans" });
  }
  // Sealed before text hygiene: invisible characters come written out (\u202e).
  $("licence-hidden").hidden = !(licence.hidden_characters || []).length;
}

function fieldText(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.map(fieldText).join("；");
  if (typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${k}：${fieldText(v)}`).join("  ");
  }
  return String(value);
}

// Checks that fail when the file itself was altered: other failures next to one of them
// are most likely its consequences, and are folded under it.
const TAMPER_CHECKS = new Set(["signature.layout", "signature.integrity", "signature.coverage",
  "signature.modifications", "document.parsers_agree", "licence.data_matches"]);
// Checks about the licence's standing, not the file: a genuine file can fail them.
const STANDING_CHECKS = new Set(["licence.status", "licence.validity"]);

function failedCodes(report) {
  return report.checks.filter((c) => c.outcome === "failed").map((c) => c.code);
}

// A genuine licence that is revoked, suspended, superseded or expired: what it is, not
// "forged".
function standing(report) {
  const failed = failedCodes(report);
  if (!failed.length || !failed.every((code) => STANDING_CHECKS.has(code))) return null;
  const status = report.checks.find((c) => c.code === "licence.status" && c.outcome === "failed");
  const state = status?.details?.status || "expired";
  return t(`status.${state}`);
}

function drawSeal(report) {
  const list = $("seal-fields");
  list.replaceChildren();
  const { signer, trust } = report;
  if (signer) {
    field(list, t("field.signer"), signer.department_name || signer.certificate_subject,
      { id: "signer" });
    field(list, t("field.signer_uscc"), signer.uscc, { mono: true });
  }
  if (report.signing_time) field(list, t("field.signing_time"), formatDateTime(report.signing_time));
  if (trust) {
    const region = currentLanguage() === "en" ? `${trust.region_name} (${trust.region_code})`
      : `${trust.region_name}（${trust.region_code}）`;
    field(list, t("field.region"), region, { id: "region" });
    field(list, t("field.trust_list"), t("field.trust_list.value", {
      sequence: trust.trust_list_sequence, issued: formatDateTime(trust.trust_list_issued_at),
    }));
    field(list, t("field.issuing_ca"), trust.issuing_ca, { mono: true });
  }
  if (signer) {
    field(list, t("field.certificate_serial"), signer.certificate_serial, { mono: true });
    field(list, t("field.certificate_sha256"), signer.certificate_sha256, { mono: true });
  }
  field(list, t("field.verified_at"), formatDateTime(report.verified_at));
  if (report.offline) field(list, "", t("field.offline"));
  $("seal-panel").hidden = !list.childElementCount;
}

function drawChecks(report) {
  const list = $("checks");
  list.replaceChildren();
  const folded = $("checks-folded-list");
  folded.replaceChildren();
  const tampered = failedCodes(report).some((code) => TAMPER_CHECKS.has(code));
  const checks = [...report.checks].sort(
    (a, b) => (SEVERITY[a.outcome] ?? 9) - (SEVERITY[b.outcome] ?? 9));
  for (const check of checks) {
    const secondary = tampered && check.outcome === "failed" && !TAMPER_CHECKS.has(check.code);
    const item = document.createElement("li");
    item.className = `check check-${check.outcome}`;
    item.dataset.code = check.code;
    const badge = document.createElement("span");
    badge.className = "badge";
    const icon = document.createElement("span");
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = `${OUTCOME_ICONS[check.outcome] || "?"} `;
    badge.append(icon, t(`outcome.${check.outcome}`));
    const text = document.createElement("span");
    const { text: words, lang } = message(check);
    text.textContent = words;
    text.lang = lang;
    item.append(badge, text);
    (secondary ? folded : list).append(item);
  }
  $("checks-folded").hidden = !folded.childElementCount;
  const missing = report.missing_checks || [];
  $("checks-missing").hidden = !missing.length;
  $("checks-missing").textContent = missing.length ? t("checks.missing") + missing.join(", ") : "";
}

function drawReport(report) {
  const verdict = ["valid", "invalid", "indeterminate"].includes(report.verdict)
    ? report.verdict : "indeterminate";
  const box = $("verdict");
  box.className = `verdict verdict-${verdict}`;
  box.dataset.verdict = verdict;
  $("verdict-icon").textContent = ICONS[verdict];
  const state = verdict === "invalid" ? standing(report) : null;
  $("verdict-word").textContent = state ? t("verdict.invalid.standing", { state })
    : t(`verdict.${verdict}`);
  $("verdict-hint").textContent = state ? t("verdict.invalid.standing.hint", {
    state: currentLanguage() === "en" ? state.toLowerCase() : state })
    : t(`verdict.${verdict}.hint`);
  $("verdict-kind").textContent = t(`verdict.kind.${report.kind}`);
  drawLicence(report.licence);
  // Data read from a document that failed must not pass for data to compare with.
  const untrusted = verdict === "invalid" && !state;
  $("licence-panel").classList.toggle("untrusted", untrusted);
  $("licence-heading").textContent = t(untrusted ? "section.licence.untrusted" : "section.licence");
  drawSeal(report);
  drawChecks(report);
  $("error").hidden = true;
  $("result").hidden = false;
}

function drawError(error) {
  $("error-message").textContent = t(error.message);
  $("error-hint").textContent = error.hint ? t(error.hint) : "";
  $("error-detail").textContent = error.detail || "";
  $("result").hidden = true;
  $("error").hidden = false;
}

function redraw() {
  if (shown?.report) drawReport(shown.report);
  else if (shown?.error) drawError(shown.error);
}

async function problemDetail(response) {
  try {
    const body = await response.json();
    return typeof body.detail === "string" ? body.detail : "";
  } catch {
    return "";
  }
}

async function verify(body, headers = {}) {
  $("busy").textContent = t("counter.busy");
  $("error").hidden = true;
  $("result").hidden = true;
  document.body.setAttribute("aria-busy", "true");
  try {
    let response;
    try {
      response = await fetch("/v1/verify", {
        method: "POST", body, credentials: "omit", cache: "no-store",
        // A refusal's detail comes in the page's language, not the browser's.
        headers: { "Accept-Language": currentLanguage(), ...headers },
      });
    } catch {
      shown = { error: { message: "error.network" } };
      return;
    }
    if (response.ok) {
      shown = { report: await response.json() };
    } else if (response.status === 413) {
      shown = { error: { message: "error.too_large", detail: await problemDetail(response) } };
    } else if (response.status === 422) {
      shown = { error: { message: "error.unusable", hint: "error.unusable.hint",
        detail: await problemDetail(response) } };
    } else {
      shown = { error: { message: "error.server", detail: await problemDetail(response) } };
    }
  } finally {
    $("busy").textContent = "";
    document.body.removeAttribute("aria-busy");
    redraw();
    const target = shown?.report ? $("verdict") : $("error");
    target.scrollIntoView({ block: "start" });
    if (shown?.report) $("verdict").focus({ preventScroll: true });
  }
}

function verifyFile(file) {
  if (!file) return;
  const form = new FormData();
  form.append("file", file, file.name || "upload");
  return verify(form);
}

function start() {
  const pdfInput = $("pdf-input");
  const photoInput = $("photo-input");
  pdfInput.addEventListener("change", () => {
    verifyFile(pdfInput.files[0]);
    pdfInput.value = "";
  });
  photoInput.addEventListener("change", () => {
    verifyFile(photoInput.files[0]);
    photoInput.value = "";
  });

  const zone = $("dropzone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    verifyFile(event.dataTransfer.files[0]);
  });

  $("qr-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("qr-text").value.trim();
    if (!text) {
      shown = { error: { message: "error.empty_qr" } };
      redraw();
      return;
    }
    verify(JSON.stringify({ qr: text }), { "Content-Type": "application/json" });
  });

  $("again").addEventListener("click", () => {
    shown = null;
    $("result").hidden = true;
    $("qr-text").value = "";
    window.scrollTo({ top: 0 });
    $("pdf-input").focus();
  });
}

// Controls work at once (the server rendered the labels); the catalogue for what the
// script draws follows. data-ready tells tests (and nothing else) both are in place.
start();
startLanguage(redraw).catch(() => {}).then(() => {
  document.body.dataset.ready = "true";
  redraw();
});
