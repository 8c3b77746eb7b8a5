// node-postgres against Triad: runs one query (named by the first argument) and prints its
// fields (name, dataTypeID) and rows as JSON; vm-tests/clients/drivers_test.py asserts them.
//   node pg_test.js param|types HOST PORT USER PASSWORD
const { Client } = require("pg");

const QUERIES = {
  // a parameterised query (extended protocol, $n bound server-side)
  param: {
    text: "SELECT region, sum(units) AS units, count(*) AS cells FROM sales.revenue WHERE region = $1 AND month >= $2 GROUP BY region",
    values: ["apac", "2025-01"],
  },
  // result types as PostgreSQL types them
  types: {
    text: "SELECT 1::int4 AS i4, 2::int8 AS i8, 2.50::numeric(6,2) AS num, 1.5::float8 AS f8, 'x'::text AS t, true AS b, DATE '2026-01-02' AS d, TIMESTAMP '2026-01-02 03:04:05' AS ts",
    values: [],
  },
};

(async () => {
  const [what, host, port, user, password] = process.argv.slice(2);
  const client = new Client({ host, port: Number(port), user, password, database: "triad", application_name: `drivers-node.${what}`, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const r = await client.query(QUERIES[what]);
    const rows = r.rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, { type: v instanceof Date ? "Date" : typeof v, value: v instanceof Date ? v.toISOString() : v }])));
    console.log(JSON.stringify({ fields: r.fields.map((f) => [f.name, f.dataTypeID]), rows }));
  } finally {
    await client.end();
  }
})().catch((e) => {
  console.error(`${e.code ? e.code + " " : ""}${e.message}`);
  process.exit(1);
});
