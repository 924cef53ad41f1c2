// Language of the page: the server renders it in the chosen language; switching here
// swaps every [data-i18n] text without a reload and remembers the choice in a cookie
// (the server reads it on the next visit) — so a verdict on screen stays on screen.

export const LANGUAGES = ["zh-Hans", "zh-Hant", "en"];
const COOKIE_AGE = 365 * 24 * 3600;
let strings = {};

export function currentLanguage() {
  return document.documentElement.lang;
}

export function t(key, values = {}) {
  const text = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

export async function loadLanguage(language) {
  const response = await fetch(`/web/i18n/${language}.json`, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`catalogue ${language}: ${response.status}`);
  strings = await response.json();
  document.documentElement.lang = language;
}

function translateStatic() {
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
}

function markCurrent() {
  for (const link of document.querySelectorAll("nav.lang a[data-lang]")) {
    if (link.dataset.lang === currentLanguage()) link.setAttribute("aria-current", "true");
    else link.removeAttribute("aria-current");
  }
}

// onChange re-renders what the page script drew itself (a report, a list).
export async function startLanguage(onChange) {
  await loadLanguage(currentLanguage());
  markCurrent();
  for (const link of document.querySelectorAll("nav.lang a[data-lang]")) {
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      const language = link.dataset.lang;
      if (!LANGUAGES.includes(language)) return;
      await loadLanguage(language);
      document.cookie = `lang=${language}; path=/; max-age=${COOKIE_AGE}; samesite=lax`;
      const url = new URL(window.location.href);
      url.searchParams.set("lang", language);
      window.history.replaceState(window.history.state, "", url);
      translateStatic();
      markCurrent();
      onChange();
    });
  }
}

const LOCALES = { "zh-Hans": "zh-Hans-CN", "zh-Hant": "zh-Hant", en: "en-GB" };
const SHANGHAI = "Asia/Shanghai"; // licences are issued and dated in China Standard Time

export function formatDateTime(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return iso;
  return new Intl.DateTimeFormat(LOCALES[currentLanguage()], {
    dateStyle: "long", timeStyle: "medium", timeZone: SHANGHAI, hour12: false,
  }).format(moment) + " (UTC+8)";
}

// A licence date (YYYY-MM-DD) is a calendar date, not a moment: no time zone shift.
export function formatDate(iso) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
  if (!match) return iso || "";
  const date = new Date(Date.UTC(+match[1], +match[2] - 1, +match[3]));
  return new Intl.DateTimeFormat(LOCALES[currentLanguage()], { dateStyle: "long", timeZone: "UTC" })
    .format(date);
}

export function typeName(code, fallback) {
  const key = `type.${code}`;
  return Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : (fallback || code);
}
