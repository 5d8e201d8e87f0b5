// The LMS integration's two small pages. Files, not inline scripts: the site's CSP allows
// scripts from this site only.
(function () {
  "use strict";

  // The cookie check before an LTI login: inside an LMS frame whose browser blocks third-party
  // cookies, the login cannot keep its state; offer a window of kubelab's own instead.
  var check = document.querySelector("[data-lms-cookie-check]");
  if (check) {
    var next = check.getAttribute("data-continue");
    // Partitioned (CHIPS): kept for this LMS's pages only, and allowed where third-party
    // cookies are blocked; kubelab's own cookies in the frame are set the same way.
    document.cookie = "kubelab_cookie_test=1; path=/; SameSite=None; Secure; Partitioned";
    var works = document.cookie.indexOf("kubelab_cookie_test=1") !== -1;
    if (!works) {
      // Not Secure-capable (plain http): try a plain cookie, which first-party frames keep.
      document.cookie = "kubelab_cookie_test=1; path=/";
      works = document.cookie.indexOf("kubelab_cookie_test=1") !== -1 && window.top === window;
    }
    if (works) {
      document.cookie =
        "kubelab_cookie_test=; path=/; max-age=0; SameSite=None; Secure; Partitioned";
      window.location.replace(next);
    } else {
      check.querySelector("[data-lms-loading]").hidden = true;
      check.querySelector("[data-lms-blocked]").hidden = false;
    }
  }

  // The deep-linking answer goes back to the LMS by a form post, as the spec asks.
  var form = document.querySelector("form[data-lms-autopost]");
  if (form) {
    form.submit();
  }
})();
