// The local web chat: talk to govbot as any person, click buttons, fill forms, read the inbox.
(function () {
  "use strict";
  const person = document.getElementById("person");
  const conversation = document.getElementById("conversation");
  const sayForm = document.getElementById("say");
  const message = document.getElementById("message");
  const inbox = document.getElementById("inbox");
  const inboxCount = document.getElementById("inbox-count");
  let inboxSignature = "";

  function personId() {
    return parseInt(person.value, 10);
  }

  function bubble(cls, html) {
    const el = document.createElement("div");
    el.className = "turn " + cls;
    el.innerHTML = html;
    conversation.appendChild(el);
    conversation.scrollTop = conversation.scrollHeight;
    return el;
  }

  function userBubble(text) {
    const el = document.createElement("div");
    el.className = "turn mine";
    el.textContent = text;
    conversation.appendChild(el);
    conversation.scrollTop = conversation.scrollHeight;
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    if (!response.ok) {
      throw new Error(response.status + " " + (await response.text()));
    }
    return response.json();
  }

  function showError(err) {
    const el = document.createElement("div");
    el.className = "turn error";
    el.textContent = "Could not reach govbot: " + err.message;
    conversation.appendChild(el);
  }

  async function say(text) {
    userBubble(text);
    try {
      const data = await post("/chat/api/say", { person_id: personId(), text: text });
      bubble("bot", data.html);
    } catch (err) {
      showError(err);
    }
    refreshInbox();
  }

  async function click(actionId, value, inputs, label) {
    if (label) {
      userBubble("▸ " + label);
    }
    try {
      const data = await post("/chat/api/click", {
        person_id: personId(), action_id: actionId, value: value, inputs: inputs || {},
      });
      bubble("bot", data.html);
    } catch (err) {
      showError(err);
    }
    refreshInbox();
  }

  function formInputs(form) {
    const inputs = {};
    for (const el of form.elements) {
      if (!el.name) continue;
      if (el.type === "checkbox") {
        inputs[el.name] = el.checked ? "yes" : "";
      } else {
        inputs[el.name] = el.value;
      }
    }
    return inputs;
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button.act");
    if (!button) return;
    event.preventDefault();
    click(button.dataset.actionId, button.dataset.value, {}, button.textContent.trim());
  });

  document.addEventListener("submit", function (event) {
    const form = event.target.closest("form.reply-form");
    if (!form) return;
    event.preventDefault();
    const submit = form.querySelector("button[type=submit]");
    click(form.dataset.actionId, form.dataset.value, formInputs(form), submit ? submit.textContent.trim() : "Submit");
    for (const el of form.elements) el.disabled = true;
  });

  sayForm.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = message.value.trim();
    if (!text) return;
    message.value = "";
    say(text);
  });

  async function refreshInbox() {
    try {
      const response = await fetch("/chat/api/inbox?person_id=" + personId(), { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      if (data.person_id !== personId()) return;
      const signature = data.messages.map(function (m) { return m.id + (m.updated ? "u" : ""); }).join(",");
      inboxCount.textContent = String(data.messages.length);
      if (signature === inboxSignature) return;
      inboxSignature = signature;
      inbox.innerHTML = "";
      for (const m of data.messages) {
        const wrap = document.createElement("div");
        wrap.className = "inbox-item" + (m.updated ? " updated" : "");
        wrap.innerHTML = (m.updated ? '<div class="muted">updated</div>' : "") + m.html;
        inbox.appendChild(wrap);
      }
    } catch (err) {
      // The next poll tries again.
    }
  }

  person.addEventListener("change", function () {
    inboxSignature = "";
    const url = new URL(window.location.href);
    url.searchParams.set("person_id", person.value);
    window.history.replaceState(null, "", url);
    bubble("system", "<em>You are now " + person.options[person.selectedIndex].text.replace(/</g, "&lt;") + ".</em>");
    refreshInbox();
  });

  refreshInbox();
  window.setInterval(refreshInbox, 3000);
  // A link such as /chat?q=who+owns+SIS-NH3-01 asks its question on arrival.
  const initial = new URLSearchParams(window.location.search).get("q");
  if (initial) {
    say(initial);
  }
})();
