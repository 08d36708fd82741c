// njs for nginx-njs.conf: fan out to three services in parallel (Promise.allSettled), merge into one JSON,
// mark degraded parts. The reference for what bench.yaml's /dashboard and /dashboard-slow ask of our gateway.
async function fan(r, paths) {
  const names = ['user', 'orders', 'notifications'];
  const res = await Promise.allSettled(paths.map(p => r.subrequest(p)));
  const out = {}; const failed = [];
  res.forEach((x, i) => {
    if (x.status === 'fulfilled' && x.value.status === 200) { out[names[i]] = JSON.parse(x.value.responseText); }
    else { out[names[i]] = null; failed.push(names[i]); }
  });
  if (failed.length) { out._degraded = true; out._failed = failed; }
  r.headersOut['Content-Type'] = 'application/json';
  r.return(200, JSON.stringify(out));
}
function dashboard(r) { return fan(r, ['/_u/users/u1', '/_o/orders', '/_n/notifications']); }
function dashboardSlow(r) { return fan(r, ['/_u/slow/u1', '/_o/slow/x', '/_n/slow/x']); }
export default { dashboard, dashboardSlow };
