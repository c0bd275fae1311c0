// The instructor pauses from the board's panel and the clock stops (the board gets new
// frames while paused, the instructor's messages, and shows the same time); resumes and
// it runs.
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
  await until(async () => (await page.evaluate(() => document.body.dataset.state)) === 'paused',
    10000, 'the board to say paused');
  const pill = await page.textContent('#state');
  check(pill.includes('paused'), 'the state pill says ' + pill);
  // While paused, each of the instructor's messages reaches the board in a new frame
  // of the stream; the clock it shows must stand where it stood.
  const stood = await page.textContent('#clock');
  const seen = [];
  for (const text of ['Paused for a debrief', 'Back in a minute']) {
    const frames = Number(await page.evaluate(() => document.body.dataset.frames || 0));
    await page.fill('#instr-message', text);
    await page.click('#instr-send');
    await until(async () => (await page.textContent('#message-text')) === text &&
      Number(await page.evaluate(() => document.body.dataset.frames || 0)) > frames, 15000,
    'the board to show "' + text + '" in a new frame');
    seen.push(await page.textContent('#clock'));
  }
  check(seen.every((t) => t === stood), 'the clock moved while paused: ' + stood + ' then ' + seen.join(', '));

  await page.click('#instr-resume');
  await until(async () => (await page.evaluate(() => document.body.dataset.state)) === 'running',
    10000, 'the board to say running');
  await until(async () => (await page.textContent('#clock')) !== stood, 15000,
    'the clock to run again after resume');
  const res = await page.textContent('#instr-result');
  check(res.startsWith('resume: done'), 'the panel said: ' + res);
  check(errors.length === 0, errors.join('; '));
  console.log('paused at ' + stood + ', ' + seen.length + ' frames while paused');
});
