/* The display of a new vote code (SPEC §1.6, SEC-32, SEC-40, RGAA 13.1).
   A static script (the CSP forbids inline script): a countdown readable at any
   time in minutes and seconds, polite announcements, a visible warning 20 s before
   the end, one action to extend (as often as needed), copy, a warning before
   leaving while the code is shown, and removal of the code.  Without this script
   the code simply stays until « J'ai noté mon code ». */
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
  var warning = document.getElementById("ending-warning");
  var WARN_AT = 20;
  var warned = false;
  var shown = true;    // the code is on the page
  var leaving = false; // the voter already said yes to leaving
  var timer = null;

  function plural(n, word) { return n + " " + word + (n >= 2 ? "s" : ""); }

  function spoken(seconds) {
    var minutes = Math.floor(seconds / 60), rest = seconds % 60;
    if (!minutes) { return plural(rest, "seconde"); }
    if (!rest) { return plural(minutes, "minute"); }
    return plural(minutes, "minute") + " " + plural(rest, "seconde");
  }

  function say(text) { live.textContent = text; }

  function secondsLeft() { return Math.max(0, Math.ceil((deadline - Date.now()) / 1000)); }

  function remove(id) {
    var el = document.getElementById(id);
    if (el) { el.parentNode.removeChild(el); }
  }

  function finish() {
    window.clearInterval(timer);
    shown = false;
    var value = document.getElementById("code-value");
    if (value) { value.value = ""; }
    // Focus was perhaps on a control about to go: it moves to the notice that replaces them.
    var hadFocus = root.contains(document.activeElement);
    zone.parentNode.removeChild(zone);
    ["countdown", "ending-warning", "done-actions"].forEach(remove);
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
    remainingEl.textContent = spoken(left);
    remainingEl.setAttribute("data-seconds-left", String(left));
    if (bar) {
      bar.max = Math.max(bar.max, left);
      bar.value = left;
    }
    var ending = left <= WARN_AT;
    root.classList.toggle("is-ending", ending);
    warning.hidden = !ending;
    if (left === 0) { finish(); return; }
    if (ending && !warned) {
      warned = true;
      say("Attention : le code disparaîtra dans " + spoken(left) + ". Vous pouvez prolonger l'affichage.");
    } else if (left % 30 === 0) {
      say("Le code reste affiché " + spoken(left) + ".");
    }
  }

  document.getElementById("extend-display").addEventListener("click", function () {
    deadline = Math.max(deadline, Date.now()) + total * 1000;
    warned = false;
    tick();
    say("Affichage prolongé : il reste " + spoken(secondsLeft()) + ".");
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

  // Leaving while the code is shown loses it for good: ask first (« Se déconnecter », links, the tab).
  function mayLeave() {
    if (!shown || leaving) { return true; }
    leaving = window.confirm("Votre nouveau code de vote est encore affiché et ne le sera plus jamais. " +
                             "L'avez-vous noté ? Choisissez OK pour quitter cette page, Annuler pour y rester.");
    return leaving;
  }
  document.getElementById("code-noted").addEventListener("click", function () { leaving = true; });
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href]") : null;
    if (!link || link.getAttribute("href").charAt(0) === "#" || link.id === "code-noted") { return; }
    if (!mayLeave()) { event.preventDefault(); }
  });
  document.addEventListener("submit", function (event) {
    if (!mayLeave()) { event.preventDefault(); }
  });
  window.addEventListener("beforeunload", function (event) {
    if (shown && !leaving) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  tick();
  say("Nouveau code affiché pendant " + spoken(total) + ".");
  timer = window.setInterval(tick, 1000);
}());
