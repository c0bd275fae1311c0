// The instructor pauses from the board's panel and the clock stops; resumes and it runs.
// Arguments: --url API --admin TOKEN
import { args, run, until, check, watch } from './lib.mjs';

const a = args();
await run('instructor', async (ctx) => {
  const page = await ctx.newPage();
  const errors = watch(page);
  await page.goto(a.url + '/#instructor', { waitUntil: 'load' });
  await page.fill('#instr-token', a.admin);
  await page.click('.instr-login button');
  await until(async () => (await page.textContent('#instr-result')) === 'instructor token accepted',
    10000, 'the admin token to be accepted');
  const running = await page.textContent('#clock');
  await until(async () => (await page.textContent('#clock')) !== running, 15000, 'the clock to run');

  await page.click('#instr-pause');
  await until(async () => (await page.textContent('#state')) === 'paused', 10000,
    'the state pill to say paused');
  // Every redraw of the clock from now on must show the same time: count the board's
  // redraws (each one replaces the text) and read the text at each.
  await page.evaluate(() => {
    window.__clocks = [];
    new MutationObserver(() => window.__clocks.push(document.querySelector('#clock').textContent))
      .observe(document.querySelector('#clock'), { childList: true, characterData: true, subtree: true });
  });
  const stood = await page.textContent('#clock');
  await until(async () => (await page.evaluate(() => window.__clocks.length)) >= 3, 15000,
    'three redraws of the board while paused');
  const seen = await page.evaluate(() => window.__clocks);
  check(seen.every((t) => t === stood), 'the clock moved while paused: ' + stood + ' then ' + seen.join(', '));

  await page.click('#instr-resume');
  await until(async () => (await page.textContent('#state')) === 'running', 10000,
    'the state pill to say running');
  await until(async () => (await page.textContent('#clock')) !== stood, 15000,
    'the clock to run again after resume');
  const res = await page.textContent('#instr-result');
  check(res.startsWith('resume: done'), 'the panel said: ' + res);
  check(errors.length === 0, errors.join('; '));
  console.log('paused at ' + stood + ', ' + seen.length + ' redraws while paused');
});
