// The stepper's diagram in the page (a Streamlit components-v2 component; see diagram_view.py).
// Panzoom (graphlab/static/panzoom.min.js, prepended to this file by diagram_view.py) pans and
// zooms; this file only sizes the drawing so its labels stay legible, wires the buttons and the
// keys to Panzoom and to the step, and reports the size of the space the diagram has.
//
// data: {svg, step, count, label, direction, present, minPx: {phone, wide}, phoneWidth, maxPx}

// focus in these keeps its keys: text boxes, and widgets that move by arrow keys themselves
const TEXT_BOX = 'input, textarea, select, [contenteditable=""], [contenteditable="true"], [role="slider"], '
  + '[role="combobox"], [role="textbox"], [role="spinbutton"], [role="tab"], [role="radio"], [role="option"], '
  + '[role="listbox"], [role="menuitem"]';
const KEYS = {ArrowRight: 1, PageDown: 1, ' ': 1, ArrowLeft: -1, PageUp: -1};

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : 0;
}

function build(root) {
  root.innerHTML = `
    <div class="gl-bar" role="toolbar" aria-label="Diagram">
      <span class="gl-label"></span>
      <button type="button" data-do="prev" class="gl-present-only" aria-label="Previous step">◀</button>
      <button type="button" data-do="next" class="gl-present-only" aria-label="Next step">▶</button>
      <button type="button" data-do="in" aria-label="Zoom in" title="Zoom in (or Ctrl + wheel, pinch)">+</button>
      <button type="button" data-do="out" aria-label="Zoom out" title="Zoom out">−</button>
      <button type="button" data-do="reset" aria-label="Reset view" title="Reset the view">⟲</button>
      <button type="button" data-do="present" aria-label="Present" title="Present: the diagram and the chain rule
fill the screen; → / PageDown / Space next, ← / PageUp previous, Home / End first and last">Present</button>
    </div>
    <div class="gl-box"><div class="gl-stage"></div></div>`;
  return {bar: root.querySelector('.gl-bar'), box: root.querySelector('.gl-box'),
          stage: root.querySelector('.gl-stage'), panzoom: null, step: 0, count: 0, present: false};
}

// The node being visited, in the stage's own pixels (whatever Panzoom's transform is just now).
function currentAt(view) {
  const node = view.stage.querySelector('g.node.current');
  if (!node) return null;
  const stage = view.stage.getBoundingClientRect();
  const at = node.getBoundingClientRect();
  const k = view.stage.offsetWidth / stage.width;
  return {x: (at.left + at.width / 2 - stage.left) * k, y: (at.top + at.height / 2 - stage.top) * k};
}

// A new view: at the legible scale, the node being visited in the middle (Panzoom keeps the drawing
// covering the box).
function centre(view) {
  view.panzoom.reset({animate: false});
  // Panzoom applies a transform on the next frame: measure after it, so containment sees the true size
  requestAnimationFrame(() => requestAnimationFrame(() => {
    const at = currentAt(view);
    if (at) view.panzoom.pan(view.box.clientWidth / 2 - at.x, view.box.clientHeight / 2 - at.y, {animate: false});
  }));
}

// The next step of the same drawing: the view stays, unless the node being visited is out of it.
function follow(view) {
  const node = view.stage.querySelector('g.node.current');
  if (!node) return;
  const box = view.box.getBoundingClientRect();
  const at = node.getBoundingClientRect();
  if (at.left >= box.left && at.right <= box.right && at.top >= box.top && at.bottom <= box.bottom) return;
  const scale = view.panzoom.getScale();
  const dx = (box.left + box.width / 2) - (at.left + at.width / 2);
  const dy = (box.top + box.height / 2) - (at.top + at.height / 2);
  view.panzoom.pan(dx / scale, dy / scale, {relative: true, animate: false});
}

function draw(view, data) {
  const {box, stage} = view;
  stage.innerHTML = data.svg;
  const svg = stage.querySelector('svg');
  const vb = svg.viewBox.baseVal;
  // Graphviz writes sizes in points; the labels' heights in the same units
  const heights = [...svg.querySelectorAll('text')].map(t => t.getBBox().height).filter(h => h > 0);
  const label = median(heights) || 14;
  const width = view.root.clientWidth || window.innerWidth;
  const room = data.present
    ? Math.max(200, window.innerHeight - view.around() - 12)
    : Math.max(240, Math.round(window.innerHeight * 0.72));
  const fit = Math.min(width / vb.width, room / vb.height);
  // never smaller than legible; no larger than maxPx labels, unless that is what legible takes
  const minPx = window.innerWidth < data.phoneWidth ? data.minPx.phone : data.minPx.wide;
  const scale = Math.max(minPx / label, Math.min(fit, data.maxPx / label));
  const w = vb.width * scale, h = vb.height * scale;
  svg.setAttribute('width', `${w}px`);
  svg.setAttribute('height', `${h}px`);
  const boxHeight = Math.ceil(Math.max(120, Math.min(h, room)));
  box.style.height = `${boxHeight}px`;
  stage.style.width = `${Math.max(w, width)}px`;  // at least the box: Panzoom's contain "outside"
  stage.style.height = `${Math.max(h, boxHeight)}px`;
  view.root.dataset.labelPx = (label * scale).toFixed(1);
  view.root.dataset.direction = data.direction;
  view.root.dataset.fits = String(w <= width + 1 && h <= room + 1);
  return {width, room};
}

function reportArea(view, setStateValue, area) {
  const previous = view.area;
  const changed = !previous || Math.abs(previous.w - area.width) > 40 || Math.abs(previous.h - area.room) > 40;
  if (changed) {
    view.area = {w: area.width, h: area.room};
    setStateValue('area', {w: Math.round(area.width), h: Math.round(area.room)});
  }
}

export default function ({data, parentElement, setStateValue, setTriggerValue}) {
  let root = parentElement.querySelector('.gl-diagram');
  if (!root) {
    root = document.createElement('div');
    root.className = 'gl-diagram';
    parentElement.appendChild(root);
  }
  const view = root._view || (root._view = Object.assign(build(root), {root}));
  // presenting: the height of all but the drawing (the bar, the chain rule, the gaps), from the stage's top
  view.around = () => {
    const stage = document.querySelector('.st-key-stage');
    if (!stage) return 0;
    stage.scrollIntoView({block: 'start'});
    return stage.getBoundingClientRect().height - view.box.getBoundingClientRect().height
      + Math.max(0, stage.getBoundingClientRect().top);
  };
  const previousStep = view.step;
  Object.assign(view, {step: data.step, count: data.count, present: data.present});
  root.classList.toggle('gl-presenting', data.present);
  view.bar.querySelector('.gl-label').textContent = data.label;
  view.bar.querySelector('[data-do="present"]').textContent = data.present ? 'Exit' : 'Present';
  view.bar.querySelector('[data-do="present"]').setAttribute('aria-label', data.present ? 'Exit presentation' : 'Present');

  // the same drawing at another step (the layout is pinned): keep the user's pan and zoom
  const drawing = `${data.direction} ${data.present} ${data.count} ${data.svg.slice(0, 200)}`;
  const keep = view.panzoom && previousStep !== 0 && view.drawing === drawing;
  view.drawing = drawing;
  const area = draw(view, data);
  if (!view.panzoom) {
    view.panzoom = window.Panzoom(view.stage, {minScale: 1, maxScale: 6, step: 0.25, contain: 'outside',
                                               cursor: 'grab', animate: false});
  }
  if (keep) follow(view); else centre(view);
  reportArea(view, setStateValue, area);

  const go = (target) => {
    target = Math.min(view.count, Math.max(1, target));
    if (target === view.step) return;
    view.step = target;  // a second key before the rerun counts from here
    setTriggerValue('goto', target);
  };
  const present = (on) => {
    if (on && document.documentElement.requestFullscreen && !document.fullscreenElement) {
      document.documentElement.requestFullscreen().catch(() => {});
    } else if (!on && document.fullscreenElement) {
      document.exitFullscreen().catch(() => {});
    }
    setTriggerValue('present', on);
  };
  view.bar.onclick = (event) => {
    const button = event.target.closest('button');
    button?.blur();  // a later Space or Enter is a step, not this button again
    const what = button?.dataset.do;
    if (what === 'in') view.panzoom.zoomIn();
    else if (what === 'out') view.panzoom.zoomOut();
    else if (what === 'reset') centre(view);
    else if (what === 'present') present(!view.present);
    else if (what === 'prev') go(view.step - 1);
    else if (what === 'next') go(view.step + 1);
  };
  // the wheel zooms in presentation; in the page, Ctrl + wheel (a touchpad's pinch) does, and the wheel scrolls
  view.box.onwheel = (event) => {
    if (view.present || event.ctrlKey || event.metaKey) view.panzoom.zoomWithWheel(event);
  };

  const onKey = (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || event.defaultPrevented) return;
    const target = event.target instanceof Element ? event.target : null;
    if (target && target.closest(TEXT_BOX)) return;
    // Space on a focused button presses it (Streamlit's "next", say): that press is the step
    if (event.key === ' ' && target && target.closest('button, a, [role="button"]')) return;
    let to = null;
    if (event.key in KEYS) to = view.step + KEYS[event.key];
    else if (event.key === 'Home') to = 1;
    else if (event.key === 'End') to = view.count;
    else if (event.key === 'Escape' && view.present && !document.fullscreenElement) { present(false); return; }
    if (to === null) return;
    event.preventDefault();
    go(to);
  };
  const onFullscreen = () => {
    if (!document.fullscreenElement && view.present) setTriggerValue('present', false);
  };
  let resizing = null;
  const onResize = () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => { reportArea(view, setStateValue, draw(view, data)); centre(view); }, 250);
  };
  document.addEventListener('keydown', onKey);
  document.addEventListener('fullscreenchange', onFullscreen);
  window.addEventListener('resize', onResize);
  // presenting, the chain rule below takes what it needs and the diagram the rest
  const rule = document.querySelector('.st-key-chainrule');
  const watcher = new ResizeObserver(() => { if (view.present) onResize(); });
  if (rule) watcher.observe(rule);
  return () => {
    watcher.disconnect();
    document.removeEventListener('keydown', onKey);
    document.removeEventListener('fullscreenchange', onFullscreen);
    window.removeEventListener('resize', onResize);
    clearTimeout(resizing);
  };
}
