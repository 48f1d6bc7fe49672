// Forms the live socket renders carry no token of their own: htmx sends the page's token (the
// body's hx-headers) as a header. A form posted before htmx has loaded (a quick click on a slow
// device) would go without it and be refused, so every post takes the page's token with it.
// Loaded without "defer" so that it listens before the first form can be submitted.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if ((form.method || "").toLowerCase() !== "post" || form.querySelector("input[name='_csrf_token']")) return;
  var token;
  try { token = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"]; } catch (ignored) { return; }
  if (!token) return;
  var input = document.createElement("input");
  input.type = "hidden";
  input.name = "_csrf_token";
  input.value = token;
  form.appendChild(input);
}, true);
