// The team console against a real game (tests/e2e/test_browser_console.py starts it with
// tests/e2e/scenarios/console.yaml): a bad token is refused with a message; the team
// token logs in and the story renders (escaped); the team scales its group `web` from
// the console and the API then holds the new desired; a form with a bad value shows the
// server's message at that field and changes nothing; the diagram, a chart, the audit
// log, the bill and the events render; no console errors. Takes doc/img/console.png.
import { args, run, until, check, screenshot, watch } from './lib.mjs';

const a = args();
const desired = Number(a.desired || 3);

async function apiGet(path) {
  const r = await fetch(a.url + '/api/v1/' + path, { headers: { Authorization: 'Bearer ' + a.token } });
  if (!r.ok) throw new Error('GET ' + path + ': ' + r.status);
  return r.json();
}

await run('console', async (ctx) => {
  const page = await ctx.newPage();
  const errors = watch(page);
  // The refusals this script asks for on purpose: a bad token, a bad max.
  page.allowed = ['/api/v1/score', '/api/v1/resources/web'];
  await page.goto(a.url + '/console.html', { waitUntil: 'load' });

  // A bad token: a clear message, no console.
  await page.fill('#login-token', 'not-a-token');
  await page.click('#login-form button[type=submit]');
  await until(async () => (await page.textContent('#login-error')).includes('not valid'), 10000,
    'the bad token message');
  check(await page.isHidden('#console'), 'the console showed for a bad token');
  page.allowed = ['/api/v1/resources/web'];

  // The team token: the story renders from markdown, its HTML as text.
  await page.fill('#login-token', a.token);
  await page.click('#login-form button[type=submit]');
  await until(async () => (await page.textContent('#story h1')) === 'Welcome to the console test', 10000,
    'the story heading');
  check(await page.locator('#story strong').first().textContent() === 'Unicorn.Rentals', 'bold in the story');
  check(await page.locator('#story li code').first().textContent() === 'GET /?key=K', 'code in a list item');
  check(await page.locator('#story script').count() === 0, 'the story made a script element');
  check((await page.textContent('#story')).includes('<script>alert("not code")</script>'),
    "the story's HTML is not shown as text");
  check(await page.locator('#story a').count() === 1, 'the javascript: link became a link');
  check((await page.textContent('#story')).includes('and a bad link'), 'the text of the bad link');
  check(await page.evaluate(() => sessionStorage.getItem('gameday.console.token')) === a.token,
    'the token is not in sessionStorage');
  await page.click('#docs [aria-controls=runbook]');
  await until(async () => (await page.locator('#runbook ol li').count()) === 2, 5000, 'the runbook list');
  check((await page.textContent('#runbook pre')).includes('ctl scale web 4'), 'the runbook code block');
  await page.click('#docs [aria-controls=story]');

  // Every type of the registry is listed, from GET /api/v1/types.
  const types = await (await fetch(a.url + '/api/v1/types')).json();
  await until(async () => (await page.locator('#types button.type').count()) === types.length, 10000,
    'one button per type (' + types.length + ')');

  // The diagram: boxes for the group and the load balancer, links between them.
  await until(async () => (await page.locator('#diagram .node[data-name="web"]').count()) === 1 &&
    (await page.locator('#diagram .node[data-name="web-lb"]').count()) === 1, 10000, 'the diagram boxes');
  await until(async () => (await page.locator('#diagram path.link[data-from="web"][data-to="web-lb"]').count()) === 1,
    10000, 'the link web -> web-lb');
  await until(async () => (await page.locator('#diagram path.link[data-from="web"][data-to="web-template"]').count()) === 1,
    10000, 'the link web -> web-template');
  await until(async () => (await page.locator('#diagram .node.ok').count()) > 0, 20000, 'a healthy box');

  // A chart (uPlot) with the alarm's threshold: the alarm watches web's CPUUtilization.
  await until(async () => (await page.locator('#charts .chart-card[data-resource="web"][data-metric="CPUUtilization"] canvas').count()) > 0,
    10000, "the chart of web's CPUUtilization");
  // Its per-minute Average (GetMetricStatistics), as CloudWatch draws it.
  const cpu = page.locator('#charts .chart-card[data-resource="web"][data-metric="CPUUtilization"]');
  await cpu.locator('select.stat').selectOption('Average');
  await until(async () => /^[0-9.]+$/.test(await cpu.locator('.chart-val').textContent()), 10000,
    "the per-minute Average of web's CPUUtilization");

  // A box of the diagram selects its resource in the list.
  await page.click('#diagram .node[data-name="web-lb"]');
  await until(async () => (await page.locator('#res-list tr.picked[data-name="web-lb"]').count()) === 1, 5000,
    'web-lb picked in the list');

  // Scale the group from the console.
  await page.click('#types button[data-type="asg"]');
  const row = page.locator('#res-list tr[data-name="web"]');
  await until(async () => (await row.count()) === 1, 5000, 'the row of web');
  await row.locator('button[data-action="scale"]').click();
  await page.fill('#dlg [data-path="desired"]', String(desired));
  await page.click('#dlg-submit');
  await until(async () => !(await page.evaluate(() => document.querySelector('#dlg').open)), 10000,
    'the scale dialog to close');
  const web = await until(async () => {
    const r = await apiGet('resources/web');
    return r.spec.desired === desired ? r : null;
  }, 10000, 'desired ' + desired + ' in the API');
  const max0 = web.spec.max;
  await until(async () => (await page.locator('#audit tbody tr[data-event="SetDesiredCapacity"]').count()) > 0,
    10000, 'SetDesiredCapacity in the audit list');

  // A bad value: the server's message at the field, nothing changed.
  await row.locator('button[data-action="update"]').click();
  await page.fill('#dlg [data-path="spec.max"]', '-1');
  await page.click('#dlg-submit');
  const at = page.locator('#dlg .field[data-field="spec.max"] > .err');
  await until(async () => (await at.textContent()).includes("field 'max'"), 10000, 'the message at spec.max');
  const msg = await at.textContent();
  check(msg.includes('out of range') && msg.includes('0..1000'), 'the message at max: ' + msg);
  check(await page.locator('#dlg [data-path="spec.max"][aria-invalid=true]').count() === 1, 'max not marked invalid');
  // A string in a number field: the server's own words too.
  await page.fill('#dlg [data-path="spec.max"]', 'lots');
  await page.click('#dlg-submit');
  await until(async () => (await at.textContent()).includes('expected an integer'), 10000,
    'the string message at spec.max');
  check((await apiGet('resources/web')).spec.max === max0, 'max changed after the refusals');
  await page.click('#dlg-cancel');

  // A generic create form: every problem at its own field, nothing created.
  page.allowed = ['/api/v1/resources'];
  await page.click('#res-list button[data-action="create"]');
  await page.fill('#dlg [data-path="name"]', 'web2');
  await page.fill('#dlg [data-path="spec.max"]', '-1');
  await page.click('#dlg-submit');
  for (const f of ['spec.launch_template', 'spec.subnets', 'spec.max'])
    await until(async () => (await page.textContent(`#dlg .field[data-field="${f}"] > .err`)).includes(`field '${f.slice(5)}'`),
      10000, 'the message at ' + f);
  await page.click('#dlg-cancel');
  check(!(await apiGet('resources')).some((r) => r.name === 'web2'), 'web2 was created');
  page.allowed = ['/api/v1/resources/web'];

  // The audit filters: the refused updates by the team.
  await page.fill('#audit-event', 'UpdateResource');
  await page.fill('#audit-principal', 'team-1');
  await page.click('#audit-filters button[type=submit]');
  await until(async () => {
    const events = await page.evaluate(() =>
      Array.from(document.querySelectorAll('#audit tbody tr'), (tr) => tr.dataset.event));
    return events.length >= 2 && events.every((e) => e === 'UpdateResource');
  }, 10000, 'the filtered audit list (UpdateResource by team-1)');
  await page.click('#audit-filters button[type=reset]');
  await until(async () => (await page.locator('#audit tbody tr[data-event="CreateResource"]').count()) > 0, 10000,
    'the unfiltered audit list');

  // The bill by resource and the score events.
  await until(async () => (await page.locator('#bill tbody tr[data-name="web-lb"]').count()) === 1, 20000,
    "web-lb's line of the bill");
  await until(async () => (await page.locator('#events tbody tr').count()) > 0, 20000, 'a score event');

  // The new instance shows in the diagram: desired boxes of instances of web.
  await until(async () => {
    const list = await apiGet('resources?type=instance');
    const mine = list.filter((r) => r.status && r.status.asg === 'web' && r.status.state !== 'terminated');
    if (mine.length !== desired) return false;
    for (const r of mine) if ((await page.locator(`#diagram .node[data-name="${r.name}"]`).count()) !== 1) return false;
    return true;
  }, 20000, desired + " instances of web in the diagram");
  await until(async () => (await page.locator('#diagram path.link.flow').count()) > 0, 20000, 'traffic on a link');

  await page.mouse.move(0, 0);
  await until(async () => page.isHidden('#toast'), 8000, 'the toast to go');
  await screenshot(page, 'console');
  check(errors.length === 0, errors.join('; '));
});
