// The views' tabs and the active view's drawing (views/index.js lists the views). A view is drawn
// anew on every change: the keyboard stays on the element of the view that had it.

import { VIEWS } from "./index.js";

// The view the state names; without one, the first view whose `firstFor(model, state)` says it
// suits this model best (the text view for big text models), else the first of the list.
export const activeView = (state, model = null) =>
  VIEWS.find((v) => v.key === state?.view) ?? VIEWS.find((v) => v.firstFor?.(model, state)) ?? VIEWS[0];

// The heatmaps' rows in the order the active view sorts or cuts them, per layer, or null.
export const rowOrders = (data, state, model = null) => activeView(state, model).rows?.(data, state) ?? null;

// True when a change of these state keys changes the heatmaps' rows (not the run).
export const reorders = (changes) => VIEWS.some((v) => v.rowKeys?.some((key) => key in changes));

let keyboardAt = null; // the id of the view's element that had the keyboard
let drawnView = null; // the view drawn in the view's body last

// els: {viewTabs, viewAbout, viewBody}; ctx: what the view draws from (views/index.js);
// chooseView(key): a tab was clicked.
export function renderViews(els, ctx, chooseView) {
  const active = activeView(ctx.state, ctx.model);
  els.viewTabs.replaceChildren(
    ...VIEWS.map((view) => {
      const tab = document.createElement("button");
      tab.type = "button";
      tab.setAttribute("role", "tab");
      tab.id = `tab-${view.key}`;
      tab.textContent = view.label;
      tab.setAttribute("aria-selected", String(view === active));
      tab.addEventListener("click", () => chooseView(view.key));
      return tab;
    }),
  );
  els.viewAbout.textContent = active.about;
  if (active !== drawnView) showTab(els.viewTabs);
  // keep the keyboard where it was, even across a drawing that waits for the server (the element
  // comes back once the answer is in)
  if (els.viewBody.contains(document.activeElement) && document.activeElement.id) {
    keyboardAt = document.activeElement.id;
  } else if (document.activeElement !== document.body) {
    keyboardAt = null; // the keyboard went elsewhere: leave it there
  }
  // a view that can bring its last drawing up to date in place does (views/index.js: update)
  if (active === drawnView && active.update?.(els.viewBody, ctx)) return;
  drawnView = active;
  els.viewBody.replaceChildren();
  els.viewBody.setAttribute("aria-labelledby", `tab-${active.key}`);
  active.render(els.viewBody, ctx);
  const back = keyboardAt && document.getElementById(keyboardAt);
  if (back && els.viewBody.contains(back)) back.focus();
}

// A phone's tabs are one row that scrolls sideways (style.css's breakpoint): bring the chosen
// one into it, without scrolling the page (scrollIntoView would). Only when the view changes, and
// at the next frame, once the view is drawn: reading the row's sizes lays the page out.
const NARROW = matchMedia("(max-width: 600px)");
function showTab(row) {
  if (!NARROW.matches) return;
  requestAnimationFrame(() => {
    const tab = row.querySelector('[aria-selected="true"]'); // the tabs are drawn anew each time
    if (tab && row.scrollWidth > row.clientWidth) row.scrollLeft = tab.offsetLeft - row.offsetLeft - (row.clientWidth - tab.offsetWidth) / 2;
  });
}
