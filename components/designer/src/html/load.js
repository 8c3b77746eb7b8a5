// The model page's CSV upload with a progress bar. Each Load button carries its cube's name
// and upload URL in data attributes, so no server value is ever spliced into this script.
function load(cube) {
  const f = document.getElementById('csv-' + cube).files[0];
  const report = document.getElementById('report-' + cube);
  if (!f) { report.innerHTML = '<p class="bad">Choose a CSV file first.</p>'; return; }
  const x = new XMLHttpRequest();
  x.open('POST', document.getElementById('load-' + cube).dataset.url);
  x.setRequestHeader('Content-Type', 'text/csv');
  x.upload.onprogress = e => { if (e.lengthComputable) document.getElementById('progress-' + cube).value = 100 * e.loaded / e.total; };
  x.onload = () => {
    let r; try { r = JSON.parse(x.responseText); } catch (e) { r = {error: x.responseText}; }
    const esc = s => String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'})[c]);
    if (x.status === 200) report.innerHTML = '<p class="msg" id="loaded-' + cube + '">Loaded ' + r.rows + ' rows (change log position ' + r.log_position + ').</p>';
    else if (r.rejected) report.innerHTML = '<div class="bad" id="rejected-' + cube + '">Nothing was loaded: ' + r.rejected.length + ' rejected row(s).<ul>' + r.rejected.map(j => '<li>line ' + j.line + ': ' + esc(j.message) + '</li>').join('') + '</ul></div>';
    else report.innerHTML = '<p class="bad">' + esc(r.error || x.statusText) + '</p>';
  };
  x.onerror = () => { report.innerHTML = '<p class="bad">The upload failed (the designer may be changing hosts): try again.</p>'; };
  x.send(f);
}
