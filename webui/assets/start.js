// start.js runs last, once every page has registered (no inline scripts:
// the console's Content-Security-Policy allows only its own files).
ui.start();
