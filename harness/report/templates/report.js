// The page's filters: show only the chosen scenarios, providers and variants.
// Any element with data-scenario, data-provider or data-variant is hidden when its value is
// not among the chosen ones (an element without the attribute is not filtered on that
// axis). The choice lives in the URL fragment (#only:scenario=a&provider=kimi), so a
// reload or a shared link keeps it. Plain DOM, no request of any kind.
(function () {
  "use strict";
  var AXES = ["scenario", "provider", "variant"];
  var PREFIX = "#only:";
  var form = document.getElementById("filters");

  function boxes(axis) {
    return form ? Array.prototype.slice.call(form.querySelectorAll("input[name='" + axis + "']")) : [];
  }

  // {axis: Set of chosen values} for the axes restricted by the checkboxes (all ticked: none)
  function chosen() {
    var out = {};
    AXES.forEach(function (axis) {
      var all = boxes(axis);
      var on = all.filter(function (b) { return b.checked; });
      if (on.length < all.length) {
        out[axis] = new Set(on.map(function (b) { return b.value; }));
      }
    });
    return out;
  }

  function apply(choice) {
    var hidden = 0;
    var selector = AXES.map(function (a) { return "[data-" + a + "]"; }).join(",");
    document.querySelectorAll(selector).forEach(function (el) {
      if (form && form.contains(el)) return;
      var hide = AXES.some(function (axis) {
        var value = el.getAttribute("data-" + axis);
        return value !== null && choice[axis] !== undefined && !choice[axis].has(value);
      });
      el.hidden = hide;
      if (hide) hidden += 1;
    });
    var status = document.getElementById("filter-status");
    if (status) {
      status.textContent = Object.keys(choice).length ? hidden + " item(s) hidden by the filter" : "";
    }
  }

  function toFragment(choice) {
    var params = new URLSearchParams();
    AXES.forEach(function (axis) {
      if (choice[axis]) choice[axis].forEach(function (v) { params.append(axis, v); });
      if (choice[axis] && choice[axis].size === 0) params.append(axis, "");
    });
    var text = params.toString();
    return text ? PREFIX + text : "";
  }

  function fromFragment() {
    var hash = window.location.hash;
    if (hash.indexOf(PREFIX) !== 0) return null;
    var params = new URLSearchParams(hash.slice(PREFIX.length));
    var out = {};
    AXES.forEach(function (axis) {
      if (params.has(axis)) out[axis] = new Set(params.getAll(axis));
    });
    return out;
  }

  function tick(choice) {
    AXES.forEach(function (axis) {
      boxes(axis).forEach(function (b) {
        b.checked = choice[axis] === undefined || choice[axis].has(b.value);
      });
    });
  }

  function remember(choice) {
    var url = window.location.href.split("#")[0] + toFragment(choice);
    try {
      window.history.replaceState(null, "", url);
    } catch (e) {
      window.location.hash = toFragment(choice);
    }
  }

  function fromPage() {
    var choice = fromFragment();
    if (choice) tick(choice);
    apply(chosen());
  }

  if (form) {
    form.addEventListener("change", function () {
      var choice = chosen();
      remember(choice);
      apply(choice);
    });
    var reset = document.getElementById("filters-reset");
    if (reset) {
      reset.addEventListener("click", function () {
        tick({});
        remember({});
        apply({});
      });
    }
    window.addEventListener("hashchange", fromPage);
    // in-page links scroll without replacing the fragment that holds the choice
    document.addEventListener("click", function (event) {
      var link = event.target instanceof Element ? event.target.closest("a[href^='#']") : null;
      if (!link || link.getAttribute("href").indexOf(PREFIX) === 0) return;
      var target = document.getElementById(decodeURIComponent(link.getAttribute("href").slice(1)));
      if (target && window.location.hash.indexOf(PREFIX) === 0) {
        event.preventDefault();
        target.scrollIntoView();
      }
    });
    fromPage();
  }
})();
