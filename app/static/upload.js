// The upload form: sends a weights file with its description, and accepts a file dropped
// anywhere on the page. It reports the new model's info; main.js switches to it.

import { uploadModel } from "./api.js";

export function wireUpload(onUploaded) {
  const details = document.getElementById("upload");
  const form = document.getElementById("upload-form");
  const file = document.getElementById("upload-file");
  const error = document.getElementById("upload-error");
  const say = (message) => {
    error.hidden = !message;
    error.textContent = message ?? "";
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    for (const key of ["vocab", "input_size", "name", "module", "tokens", "embedding", "head", "labels"]) {
      if (data.get(key) === "") data.delete(key);
    }
    // The API takes both lists as JSON: words are typed separated by spaces, class names by commas.
    if (data.has("tokens")) data.set("tokens", JSON.stringify(data.get("tokens").trim().split(/\s+/)));
    if (data.has("labels")) data.set("labels", JSON.stringify(data.get("labels").split(",").map((s) => s.trim())));
    say(null);
    try {
      const answer = await uploadModel(data);
      details.open = false;
      onUploaded(answer.model);
    } catch (err) {
      say(err.message);
    }
  });

  document.addEventListener("dragover", (event) => {
    event.preventDefault();
    document.body.classList.add("dropping");
  });
  document.addEventListener("dragleave", () => document.body.classList.remove("dropping"));
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    document.body.classList.remove("dropping");
    if (!event.dataTransfer?.files.length) return;
    file.files = event.dataTransfer.files;
    details.open = true;
    say("File chosen: now give its vocabulary or numbers per step, and upload.");
    document.getElementById("upload-vocab").focus();
  });
}
