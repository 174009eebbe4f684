// Talking to the board's JSON API, and telling the person when it says no.
//
// Requests are same-origin: the browser sends the token cookie the server set when the
// page was opened with `?token=`. Writes are JSON (the server refuses anything else, so
// another site's form cannot act here). A refusal's `{"error": "..."}` is the sentence
// shown in the banner.

const banner = () => document.getElementById("banner");
let bannerTimer = 0;

/** An answer the API refused, with its own sentence. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Call the API; returns the parsed JSON document or throws ApiError with its message. */
export async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, `the server did not answer (${err.message}); is hermes web running?`);
  }
  const text = await response.text();
  let doc = null;
  try {
    doc = text ? JSON.parse(text) : null;
  } catch {
    doc = null;
  }
  if (!response.ok) {
    const said = doc && typeof doc.error === "string" ? doc.error : text.slice(0, 200);
    throw new ApiError(response.status, said || `${response.status} ${response.statusText}`);
  }
  return doc;
}

/** Show `message` in the banner for a while (until dismissed, for `sticky`). */
export function showError(message, { sticky = false } = {}) {
  const node = banner();
  document.getElementById("banner-text").textContent = message;
  node.hidden = false;
  clearTimeout(bannerTimer);
  if (!sticky) bannerTimer = setTimeout(hideError, 12000);
}

/** Hide the banner. */
export function hideError() {
  banner().hidden = true;
}

/** Run `action`; an ApiError (or any failure) goes to the banner. Returns its value or null. */
export async function reported(action) {
  try {
    return await action();
  } catch (err) {
    showError(err instanceof ApiError ? err.message : `something went wrong: ${err.message}`);
    return null;
  }
}
