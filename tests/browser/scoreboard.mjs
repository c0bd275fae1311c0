// The scoreboard updates without a reload: the game clock and a team's score change
// while the page stays loaded.
import { args, run, until, check, screenshot, watch } from './lib.mjs';

const a = args();
await run('scoreboard', async (ctx) => {
  const page = await ctx.newPage();
  const errors = watch(page);
  await page.goto(a.url + '/', { waitUntil: 'load' });
  let navigations = 0;
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations++; });
  const clock0 = await until(async () => {
    const t = await page.textContent('#clock');
    return t && t !== '0:00:00' ? t : null;
  }, 15000, 'the game clock to run');
  await until(async () => (await page.textContent('#clock')) !== clock0, 15000,
    'the game clock to move on from ' + clock0);
  await until(async () => (await page.locator('#teams .team').count()) > 0, 10000, 'a team card');
  await screenshot(page, 'scoreboard');
  check(navigations === 0, 'the page reloaded ' + navigations + ' times');
  check(errors.length === 0, errors.join('; '));
});
