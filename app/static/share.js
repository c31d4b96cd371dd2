// The Share button: store the view, then offer its short link (copied when the browser lets us),
// which pins the model's weights as they are now. Writes its outcome into `status` as text.

import { createLink } from "./api.js";
import { PROPS } from "./state.js";

export async function share(state, status) {
  const view = {};
  for (const { key } of PROPS) if (state[key] !== null && state[key] !== undefined) view[key] = state[key];
  status.textContent = "Making a short link…";
  let url;
  try {
    url = new URL((await createLink(view)).url, window.location.origin).href;
  } catch (err) {
    status.textContent = `No link was made: ${err.message}`;
    return;
  }
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.textContent = url;
  let copied = true;
  try {
    await navigator.clipboard.writeText(url);
  } catch {
    copied = false;
  }
  status.replaceChildren(copied ? "Copied: " : "Your link: ", anchor);
}
