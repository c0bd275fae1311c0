// The post-game report renders: from the file `gameday report` wrote (--file, opened
// from disk: everything inlined) and, when --url is given, as the finished game's server
// serves it. Three charts (score, latency, errors), every team's actions with their
// effect, no console error. The screenshot of the file at 1920x1080 is doc/img/report.png.
import { args, run, until, check, screenshot, watch } from './lib.mjs';
import { pathToFileURL } from 'node:url';

const a = args();
const teams = Number(a.teams || 1);

async function checkPage(page, errors, where) {
  await until(async () => (await page.getAttribute('body', 'data-rendered')) === '1', 15000,
    'the report to render (' + where + ')');
  const charts = await page.locator('.report-chart .uplot canvas').count();
  check(charts === 3, where + ': ' + charts + ' charts, not 3');
  const sections = await page.locator('.team-report').count();
  check(sections === teams, where + ': ' + sections + ' team sections, not ' + teams);
  for (let t = 1; t <= teams; t++) {
    const rows = page.locator('.team-report[data-team="' + t + '"] table.actions tbody tr');
    check((await rows.count()) >= 1, where + ': no action of team ' + t);
    const cells = await rows.first().locator('td').allTextContents();
    check(/^[+−±]\d/.test(cells[3]) && /^[+−±]\d/.test(cells[4]),
      where + ': team ' + t + "'s first action has no before/after: " + cells.join(' | '));
  }
  check(await page.locator('#ranking tbody tr').count() === teams, where + ': ranking rows');
  check(errors.length === 0, where + ': ' + errors.join('; '));
}

await run('report', async (ctx) => {
  const page = await ctx.newPage();
  const errors = watch(page);
  await page.goto(pathToFileURL(a.file).href, { waitUntil: 'load' });
  await checkPage(page, errors, 'file');
  await page.waitForTimeout(300);
  await screenshot(page, 'report');
  if (a.url) {
    const served = await ctx.newPage();
    const errs = watch(served);
    await served.goto(a.url + '/report.html', { waitUntil: 'load' });
    await checkPage(served, errs, 'served');
  }
});
