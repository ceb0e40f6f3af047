/* The 120-second display of a new vote code (SPEC §1.6, SEC-32, SEC-40).
   A static script (the CSP forbids inline script): countdown, polite
   announcements, one action to extend, copy, and removal of the code. */
(function () {
  "use strict";
  var root = document.getElementById("reveal");
  if (!root) { return; }
  document.documentElement.classList.add("has-js");
  var total = parseInt(root.getAttribute("data-seconds"), 10) || 120;
  var overUrl = root.getAttribute("data-over-url");
  var deadline = Date.now() + total * 1000;
  var remainingEl = document.getElementById("remaining");
  var live = document.getElementById("countdown-live");
  var zone = document.getElementById("code-zone");
  var bar = document.getElementById("countdown-bar");
  var warned = false;
  var timer = null;

  function say(text) { live.textContent = text; }

  function secondsLeft() { return Math.max(0, Math.ceil((deadline - Date.now()) / 1000)); }

  function finish() {
    window.clearInterval(timer);
    var value = document.getElementById("code-value");
    if (value) { value.value = ""; }
    // Focus was perhaps on a button about to go: it moves to the notice that replaces them.
    var hadFocus = zone.contains(document.activeElement);
    zone.parentNode.removeChild(zone);
    var countdown = document.getElementById("countdown");
    countdown.parentNode.removeChild(countdown);
    root.classList.remove("is-ending");
    var p = document.createElement("p");
    p.className = "notice notice-warning";
    p.id = "display-over";
    p.setAttribute("tabindex", "-1");
    p.textContent = "Affichage terminé : le code n'est plus affiché. ";
    var a = document.createElement("a");
    a.href = overUrl;
    a.textContent = "Que faire si je ne l'ai pas noté ?";
    p.appendChild(a);
    root.appendChild(p);
    if (hadFocus) { p.focus(); }
    say("Affichage terminé : le code n'est plus affiché.");
  }

  function tick() {
    var left = secondsLeft();
    remainingEl.textContent = String(left);
    if (bar) {
      bar.max = Math.max(bar.max, left);
      bar.value = left;
    }
    root.classList.toggle("is-ending", left <= 20);
    if (left === 0) { finish(); return; }
    if (left <= 20 && !warned) {
      warned = true;
      say("Attention : le code disparaîtra dans " + left + " secondes. Vous pouvez prolonger l'affichage.");
    } else if (left % 30 === 0) {
      say("Le code reste affiché " + left + " secondes.");
    }
  }

  document.getElementById("extend-display").addEventListener("click", function () {
    deadline = Math.max(deadline, Date.now()) + total * 1000;
    warned = false;
    tick();
    say("Affichage prolongé : " + secondsLeft() + " secondes restantes.");
  });

  document.getElementById("copy-code").addEventListener("click", function () {
    var status = document.getElementById("copy-status");
    var code = document.getElementById("code-value").value;
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(code).then(function () {
        status.textContent = "Code copié dans le presse-papiers.";
      }, function () {
        status.textContent = "La copie a échoué : notez le code à la main.";
      });
    } else {
      status.textContent = "La copie n'est pas possible sur ce navigateur : notez le code à la main.";
    }
  });

  tick();
  say("Nouveau code affiché pendant " + total + " secondes.");
  timer = window.setInterval(tick, 1000);
}());
