// The scoreboard updates without a reload, over the stream: the page counts the
// server-sent frames it received (body[data-frames]) and renders each; the game clock
// moves on; every team card has a drawn sparkline; the uPlot chart is there; the bills
// are folded (no single-bill row once a team has had several bills).
import { args, run, until, check, screenshot, watch } from './lib.mjs';

const a = args();
const teams = Number(a.teams || 1);
await run('scoreboard', async (ctx) => {
  const page = await ctx.newPage();
  const errors = watch(page);
  await page.goto(a.url + '/', { waitUntil: 'load' });
  let navigations = 0;
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations++; });
  const frames = async () => Number(await page.getAttribute('body', 'data-frames'));
  const f0 = await until(async () => ((await frames()) >= 1 ? frames() : null), 15000,
    'a first scoreboard frame over the stream');
  const clock0 = await until(async () => {
    const t = await page.textContent('#clock');
    return t && t !== '0:00:00' ? t : null;
  }, 15000, 'the game clock to run');
  await until(async () => (await page.textContent('#clock')) !== clock0, 15000,
    'the game clock to move on from ' + clock0);
  await until(async () => (await frames()) >= f0 + 3, 15000, 'three more frames');
  check((await page.getAttribute('body', 'data-transport')) === 'stream',
    'the page is not on the stream: ' + (await page.getAttribute('body', 'data-transport')));
  check(Number(await page.getAttribute('body', 'data-polls')) === 0, 'the page polled');
  await until(async () => (await page.locator('#teams .team').count()) === teams, 10000,
    teams + ' team cards');
  // Every sparkline has pixels drawn.
  await until(async () => page.evaluate(() => Array.from(document.querySelectorAll('.sparkline'))
    .every((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < d.length; i += 4) if (d[i]) return true;
      return false;
    })), 15000, 'every sparkline drawn');
  check(await page.locator('#chart-wrap .uplot canvas').count() === 1, 'no uPlot chart');
  const legend = await page.locator('#chart-wrap .u-legend .u-series').count();
  check(legend === teams + 1, 'the chart legend has ' + legend + ' rows, not ' + (teams + 1));
  if (teams > 1) {
    // identical lines stay apart: the first team's line is solid, the second's dashed
    const styles = await page.evaluate(() => Array.from(
      document.querySelectorAll('#chart-wrap .u-legend .u-series .u-marker'))
      .slice(1, 3).map((m) => getComputedStyle(m).borderTopStyle + ' ' + getComputedStyle(m).borderTopWidth));
    check(styles.length === 2 && styles[0] !== styles[1],
      'the two teams\' lines look alike in the legend: ' + styles.join(', '));
  }
  // Bills folded: once a team has had two bills, one "bills" row per team and period.
  const folded = await until(async () => page.evaluate(() => {
    const rows = Array.from(document.querySelectorAll('#events tbody tr[data-kind="bills"]'));
    return rows.length && rows.every((r) => /^\d+ bills?: \$/.test(r.querySelector('.reason').textContent))
      && rows.some((r) => /^[2-9]\d* bills/.test(r.querySelector('.reason').textContent))
      ? rows.map((r) => r.dataset.team + ':' + r.querySelector('.reason').textContent) : null;
  }), 30000, 'a folded bills row of two bills or more');
  const perTeam = {};
  for (const f of folded) perTeam[f.split(':')[0]] = (perTeam[f.split(':')[0]] || 0) + 1;
  check(Object.values(perTeam).every((n) => n === 1), 'more than one bills row per team: ' + folded);
  if (a.events) {
    await until(async () => page.locator('#events tbody tr[data-kind="' + a.events + '"]').count(),
      30000, 'an event of kind ' + a.events);
  }
  if (teams > 1) {
    await until(async () => (await page.locator('#teams .team[data-rank="1"]').count()) === 1, 5000,
      'a team ranked first');
  }
  // the board on a projector (after --settle game seconds, for a picture with history)
  if (a.settle) {
    await until(async () => {
      const [h, m, sec] = (await page.textContent('#clock')).split(':').map(Number);
      return h * 3600 + m * 60 + sec >= Number(a.settle);
    }, 60000, 'game time ' + a.settle + ' s');
  }
  await page.waitForTimeout(300);
  await screenshot(page, 'scoreboard');
  // and on a laptop: nothing hides the events
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.waitForTimeout(300);
  const box = await page.locator('.events-panel').boundingBox();
  check(box && box.width > 300 && box.height > 120, 'the events panel at 1366x768: ' + JSON.stringify(box));
  check(navigations === 0, 'the page reloaded ' + navigations + ' times');
  check((await frames()) > f0, 'no frame after the first');
  check(errors.length === 0, errors.join('; '));
  console.log('frames ' + (await frames()) + ', bills rows ' + folded.join(' | '));

  // A page whose stream fails (here: refused by the network) polls instead.
  const polled = await ctx.newPage();
  const perrors = watch(polled);
  await polled.route('**/api/v1/stream', (r) => r.abort());
  await polled.goto(a.url + '/', { waitUntil: 'load' });
  await until(async () => Number(await polled.getAttribute('body', 'data-polls')) >= 3, 15000,
    'three scoreboards by polling');
  check((await polled.getAttribute('body', 'data-transport')) === 'poll', 'not polling');
  check(Number(await polled.getAttribute('body', 'data-frames')) === 0, 'frames without a stream');
  check(await polled.locator('#teams .team').count() === teams, 'the polled page has its cards');
  check(perrors.length === 0, 'polling page: ' + perrors.join('; '));
});
