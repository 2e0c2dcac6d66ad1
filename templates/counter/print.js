// The counter's print page: open the browser's print dialog on the signed PDF in the frame.
(function () {
  var frame = document.getElementById('pdf-frame');
  var button = document.getElementById('print');
  if (!frame || !button) return;
  function print() {
    try {
      frame.contentWindow.focus();
      frame.contentWindow.print();
    } catch (e) {
      window.open(frame.src, '_blank', 'noopener');
    }
  }
  button.addEventListener('click', print);
  frame.addEventListener('load', function () {
    if (!navigator.webdriver) print();
  }, { once: true });
})();
