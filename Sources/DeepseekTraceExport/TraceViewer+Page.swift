extension TraceViewer {
    /// The page around the data: inline CSS and JavaScript only, so it works offline.
    static func page(title: String, data: String, summary: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(title)</title>
        <style>
        body { margin: 0; font: 12px system-ui, sans-serif; color: #222; background: #fff; }
        header { padding: 6px 10px; background: #263238; color: #eceff1; }
        header b { margin-right: 12px; }
        #view { position: relative; display: flex; border-bottom: 1px solid #ccc; }
        #lanes { width: 240px; flex: none; border-right: 1px solid #ccc; background: #fafafa; }
        .lane { box-sizing: border-box; padding: 0 6px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
                border-bottom: 1px solid #e0e0e0; display: flex; align-items: center; }
        .node { background: #eceff1; font-weight: bold; padding: 0 6px; height: 18px; line-height: 18px; }
        #canvas { flex: 1; cursor: grab; display: block; }
        #tip { position: absolute; pointer-events: none; background: #fffde7; border: 1px solid #aaa; padding: 2px 4px; display: none; }
        pre { margin: 10px; font: 12px ui-monospace, monospace; }
        </style></head>
        <body>
        <header><b>\(title)</b><span id="info"></span> — wheel: zoom, drag: pan, double-click: reset</header>
        <div id="view"><div id="lanes"></div><canvas id="canvas"></canvas><div id="tip"></div></div>
        <pre id="summary">\(summary)</pre>
        <script type="application/json" id="trace-data">\(data)</script>
        <script>
        (function () {
          const data = JSON.parse(document.getElementById('trace-data').textContent);
          const laneHeight = 16, nodeHeight = 18;
          const lanes = document.getElementById('lanes');
          const canvas = document.getElementById('canvas');
          const tip = document.getElementById('tip');
          const ctx = canvas.getContext('2d');
          const S = data.slices, F = data.flows;
          const depthOf = {};
          for (let i = 0; i < S.length; i += 6) depthOf[S[i]] = Math.max(depthOf[S[i]] || 0, S[i + 4]);
          // Lane layout: a header row per node, then one lane per track, as tall as its nesting.
          const top = {}, height = {};
          let y = 0, node = null;
          for (const t of data.tracks) {
            if (t.node !== node) {
              node = t.node;
              const header = document.createElement('div');
              header.className = 'node'; header.textContent = 'node ' + node;
              lanes.appendChild(header); y += nodeHeight;
            }
            const h = laneHeight * ((depthOf[t.id] || 0) + 1) + 4;
            const lane = document.createElement('div');
            lane.className = 'lane'; lane.dataset.track = t.id; lane.style.height = h + 'px';
            lane.textContent = t.name; lane.title = t.name;
            lanes.appendChild(lane);
            top[t.id] = y; height[t.id] = h; y += h;
          }
          const total = Math.max(1, data.end - data.start);
          let t0 = 0, t1 = total;
          document.getElementById('info').textContent = data.tracks.length + ' tracks, ' + (S.length / 6) + ' slices, ' +
            F.length / 4 + ' messages' + (data.omitted ? ' (' + data.omitted + ' short slices omitted)' : '');
          function color(name, open) {
            if (open) return '#e53935';
            let h = 0; for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
            return 'hsl(' + (h % 360) + ',55%,62%)';
          }
          function fmt(ns) {
            if (ns < 1e3) return ns.toFixed(0) + ' ns'; if (ns < 1e6) return (ns / 1e3).toFixed(1) + ' µs';
            if (ns < 1e9) return (ns / 1e6).toFixed(2) + ' ms'; return (ns / 1e9).toFixed(2) + ' s';
          }
          function draw() {
            const width = canvas.clientWidth || 800;
            canvas.width = width; canvas.height = Math.max(y, 40);
            ctx.fillStyle = '#ffffff'; ctx.fillRect(0, 0, canvas.width, canvas.height);
            const scale = width / (t1 - t0);
            for (const t of data.tracks) {
              ctx.fillStyle = '#f5f5f5'; ctx.fillRect(0, top[t.id] + height[t.id] - 1, width, 1);
            }
            for (let i = 0; i < S.length; i += 6) {
              const track = S[i], start = S[i + 1], dur = S[i + 2];
              if (start + dur < t0 || start > t1) continue;
              const x = (start - t0) * scale, w = Math.max(1, dur * scale);
              const yy = top[track] + 2 + S[i + 4] * laneHeight;
              const name = data.names[S[i + 3]];
              ctx.fillStyle = color(name, S[i + 5]); ctx.fillRect(x, yy, w, laneHeight - 2);
              if (w > 30) {
                ctx.fillStyle = '#111'; ctx.font = '10px sans-serif';
                ctx.save(); ctx.beginPath(); ctx.rect(x, yy, w, laneHeight); ctx.clip();
                ctx.fillText(name, x + 2, yy + laneHeight - 5); ctx.restore();
              }
            }
            ctx.strokeStyle = 'rgba(30,30,30,0.55)'; ctx.fillStyle = 'rgba(30,30,30,0.55)';
            for (let i = 0; i < F.length; i += 4) {
              const a = F[i + 1], b = F[i + 3];
              if (b < t0 || a > t1) continue;
              const x1 = (a - t0) * scale, y1 = top[F[i]] + laneHeight / 2 + 2;
              const x2 = (b - t0) * scale, y2 = top[F[i + 2]] + laneHeight / 2 + 2;
              ctx.beginPath(); ctx.moveTo(x1, y1); ctx.lineTo(x2, y2); ctx.stroke();
              const angle = Math.atan2(y2 - y1, x2 - x1);
              ctx.beginPath(); ctx.moveTo(x2, y2);
              ctx.lineTo(x2 - 6 * Math.cos(angle - 0.4), y2 - 6 * Math.sin(angle - 0.4));
              ctx.lineTo(x2 - 6 * Math.cos(angle + 0.4), y2 - 6 * Math.sin(angle + 0.4)); ctx.fill();
            }
          }
          canvas.addEventListener('wheel', function (e) {
            e.preventDefault();
            const width = canvas.clientWidth, at = t0 + (e.offsetX / width) * (t1 - t0);
            const factor = e.deltaY < 0 ? 0.8 : 1.25;
            const span = Math.min(total * 4, Math.max(100, (t1 - t0) * factor));
            t0 = at - (at - t0) * span / (t1 - t0); t1 = t0 + span; draw();
          }, { passive: false });
          let dragging = null;
          canvas.addEventListener('mousedown', function (e) { dragging = { x: e.clientX, t0: t0, t1: t1 }; canvas.style.cursor = 'grabbing'; });
          window.addEventListener('mouseup', function () { dragging = null; canvas.style.cursor = 'grab'; });
          window.addEventListener('mousemove', function (e) {
            if (dragging) {
              const shift = (e.clientX - dragging.x) / canvas.clientWidth * (dragging.t1 - dragging.t0);
              t0 = dragging.t0 - shift; t1 = dragging.t1 - shift; draw(); return;
            }
            if (e.target !== canvas) { tip.style.display = 'none'; return; }
            const at = t0 + e.offsetX / canvas.clientWidth * (t1 - t0);
            let found = null;
            for (let i = 0; i < S.length; i += 6) {
              const yy = top[S[i]] + 2 + S[i + 4] * laneHeight;
              if (e.offsetY >= yy && e.offsetY < yy + laneHeight && at >= S[i + 1] && at <= S[i + 1] + S[i + 2]) found = i;
            }
            if (found === null) { tip.style.display = 'none'; return; }
            tip.textContent = data.names[S[found + 3]] + ' — ' + fmt(S[found + 2]) + (S[found + 5] ? ' (never ended)' : '');
            tip.style.left = (e.offsetX + 250) + 'px'; tip.style.top = (e.offsetY + 12) + 'px'; tip.style.display = 'block';
          });
          canvas.addEventListener('dblclick', function () { t0 = 0; t1 = total; draw(); });
          window.addEventListener('resize', draw);
          draw();
        })();
        </script>
        </body></html>

        """
    }
}
