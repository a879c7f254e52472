import t from 'tap'
t.test('tap runs compiled typescript', async (t) => { t.equal(1 + 1, 2) })
