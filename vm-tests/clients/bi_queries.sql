-- The BI-style queries of bi_differential.py, run on the engine and on PostgreSQL over the same
-- rows (bidiff.facts: region, product, category, month 'YYYY-MM', quarter 'YYYY-Qn', year,
-- channel text; units bigint; amount double precision; some measures NULL).
-- Each entry: a header `-- <tool>: <title>` (the BI tool whose generated SQL it imitates), then
-- the query. Every query orders its result completely, so rows are compared in order.

-- metabase: connection check
SELECT 1;

-- metabase: count of rows
SELECT count(*) AS "count" FROM "bidiff"."facts";

-- metabase: sum of amount by region
SELECT "bidiff"."facts"."region" AS "region", sum("bidiff"."facts"."amount") AS "sum"
FROM "bidiff"."facts"
GROUP BY "bidiff"."facts"."region"
ORDER BY "bidiff"."facts"."region" ASC;

-- metabase: sum of units by channel (sum of bigint is numeric)
SELECT "bidiff"."facts"."channel" AS "channel", sum("bidiff"."facts"."units") AS "sum"
FROM "bidiff"."facts"
GROUP BY "bidiff"."facts"."channel"
ORDER BY "bidiff"."facts"."channel" ASC;

-- metabase: average amount by category
SELECT "bidiff"."facts"."category" AS "category", avg("bidiff"."facts"."amount") AS "avg"
FROM "bidiff"."facts"
GROUP BY "bidiff"."facts"."category"
ORDER BY "bidiff"."facts"."category" ASC;

-- metabase: average units by category (avg of bigint is numeric)
SELECT "bidiff"."facts"."category" AS "category", avg("bidiff"."facts"."units") AS "avg"
FROM "bidiff"."facts"
GROUP BY "bidiff"."facts"."category"
ORDER BY "bidiff"."facts"."category" ASC;

-- metabase: distinct products per region
SELECT "bidiff"."facts"."region" AS "region", count(distinct "bidiff"."facts"."product") AS "count"
FROM "bidiff"."facts"
GROUP BY "bidiff"."facts"."region"
ORDER BY "count" DESC, "bidiff"."facts"."region" ASC;

-- metabase: count by month (month bucket of the month text cast to timestamp)
SELECT CAST(date_trunc('month', CAST(("bidiff"."facts"."month" || '-01') AS timestamp)) AS timestamp) AS "month", count(*) AS "count"
FROM "bidiff"."facts"
GROUP BY CAST(date_trunc('month', CAST(("bidiff"."facts"."month" || '-01') AS timestamp)) AS timestamp)
ORDER BY CAST(date_trunc('month', CAST(("bidiff"."facts"."month" || '-01') AS timestamp)) AS timestamp) ASC;

-- metabase: sum by quarter bucket
SELECT CAST(date_trunc('quarter', CAST(("bidiff"."facts"."month" || '-01') AS timestamp)) AS timestamp) AS "month", sum("bidiff"."facts"."amount") AS "sum"
FROM "bidiff"."facts"
GROUP BY 1
ORDER BY 1 ASC;

-- metabase: sum by year bucket
SELECT CAST(date_trunc('year', CAST(("bidiff"."facts"."month" || '-01') AS timestamp)) AS timestamp) AS "month", sum("bidiff"."facts"."amount") AS "sum"
FROM "bidiff"."facts"
GROUP BY 1
ORDER BY 1 ASC;

-- metabase: filter on a member with a quote
SELECT "bidiff"."facts"."product" AS "product", sum("bidiff"."facts"."amount") AS "sum"
FROM "bidiff"."facts"
WHERE "bidiff"."facts"."region" = 'O''Hare'
GROUP BY "bidiff"."facts"."product"
ORDER BY "bidiff"."facts"."product" ASC;

-- metabase: filter IN with unicode members
SELECT "bidiff"."facts"."region" AS "region", count(*) AS "count"
FROM "bidiff"."facts"
WHERE "bidiff"."facts"."region" IN ('Zürich', '東京', 'São Paulo')
GROUP BY "bidiff"."facts"."region"
ORDER BY "bidiff"."facts"."region" ASC;

-- metabase: contains filter, case-insensitive
SELECT "bidiff"."facts"."product" AS "product", count(*) AS "count"
FROM "bidiff"."facts"
WHERE lower("bidiff"."facts"."product") LIKE '%e%'
GROUP BY "bidiff"."facts"."product"
ORDER BY "bidiff"."facts"."product" ASC;

-- metabase: min and max amount by year
SELECT "bidiff"."facts"."year" AS "year", min("bidiff"."facts"."amount") AS "min", max("bidiff"."facts"."amount") AS "max"
FROM "bidiff"."facts"
GROUP BY "bidiff"."facts"."year"
ORDER BY "bidiff"."facts"."year" ASC;

-- metabase: raw rows (the table view), first 200
SELECT "bidiff"."facts"."region" AS "region", "bidiff"."facts"."product" AS "product", "bidiff"."facts"."category" AS "category",
  "bidiff"."facts"."month" AS "month", "bidiff"."facts"."quarter" AS "quarter", "bidiff"."facts"."year" AS "year",
  "bidiff"."facts"."channel" AS "channel", "bidiff"."facts"."units" AS "units", "bidiff"."facts"."amount" AS "amount"
FROM "bidiff"."facts"
ORDER BY "bidiff"."facts"."region" ASC, "bidiff"."facts"."product" ASC, "bidiff"."facts"."month" ASC, "bidiff"."facts"."channel" ASC
LIMIT 200;

-- metabase: distinct values of a field (filter widget)
SELECT "bidiff"."facts"."region" AS "region"
FROM "bidiff"."facts"
GROUP BY "bidiff"."facts"."region"
ORDER BY "bidiff"."facts"."region" ASC
LIMIT 1000;

-- metabase: count where a measure is empty
SELECT count(*) AS "count" FROM "bidiff"."facts" WHERE "bidiff"."facts"."amount" IS NULL;

-- metabase: count where units above a value
SELECT count(*) AS "count" FROM "bidiff"."facts"
WHERE ("bidiff"."facts"."units" IS NOT NULL AND "bidiff"."facts"."units" > 250);

-- metabase: cumulative sum over months
SELECT "source"."month" AS "month", sum("source"."sum") OVER (ORDER BY "source"."month" ASC ROWS UNBOUNDED PRECEDING) AS "sum"
FROM (SELECT "bidiff"."facts"."month" AS "month", sum("bidiff"."facts"."amount") AS "sum" FROM "bidiff"."facts" GROUP BY "bidiff"."facts"."month") "source"
ORDER BY "source"."month" ASC;

-- metabase: day of week of the month start (extract dow)
SELECT (CAST(extract(dow from CAST(("bidiff"."facts"."month" || '-01') AS timestamp)) AS integer) + 1) AS "month", count(*) AS "count"
FROM "bidiff"."facts"
GROUP BY 1
ORDER BY 1 ASC;

-- metabase: year number as integer
SELECT CAST(extract(year from CAST(("bidiff"."facts"."month" || '-01') AS timestamp)) AS integer) AS "month", sum("bidiff"."facts"."units") AS "sum"
FROM "bidiff"."facts"
GROUP BY 1
ORDER BY 1 ASC;

-- metabase: binning of amount (auto bins of 250)
SELECT (floor((("bidiff"."facts"."amount" - 0.0) / 250.0)) * 250.0) AS "amount", count(*) AS "count"
FROM "bidiff"."facts"
WHERE "bidiff"."facts"."amount" IS NOT NULL
GROUP BY 1
ORDER BY 1 ASC;

-- metabase: custom expression, sum of case
SELECT "bidiff"."facts"."channel" AS "channel", sum(CASE WHEN "bidiff"."facts"."units" > 250 THEN 1 ELSE 0 END) AS "big", count(distinct "bidiff"."facts"."region") AS "regions"
FROM "bidiff"."facts"
GROUP BY "bidiff"."facts"."channel"
ORDER BY "bidiff"."facts"."channel" ASC;

-- metabase: share of total with a scalar subquery
SELECT "bidiff"."facts"."region" AS "region", sum("bidiff"."facts"."amount") / (SELECT sum("amount") FROM "bidiff"."facts") AS "share"
FROM "bidiff"."facts"
GROUP BY "bidiff"."facts"."region"
ORDER BY "bidiff"."facts"."region" ASC;

-- metabase: two breakouts with a filter on a level
SELECT "bidiff"."facts"."quarter" AS "quarter", "bidiff"."facts"."channel" AS "channel", sum("bidiff"."facts"."amount") AS "sum", sum("bidiff"."facts"."units") AS "sum_2"
FROM "bidiff"."facts"
WHERE "bidiff"."facts"."year" = '2026'
GROUP BY "bidiff"."facts"."quarter", "bidiff"."facts"."channel"
ORDER BY "bidiff"."facts"."quarter" ASC, "bidiff"."facts"."channel" ASC;

-- metabase: between filter on month text
SELECT "bidiff"."facts"."month" AS "month", count(*) AS "count"
FROM "bidiff"."facts"
WHERE "bidiff"."facts"."month" BETWEEN '2025-03' AND '2025-08'
GROUP BY "bidiff"."facts"."month"
ORDER BY "bidiff"."facts"."month" ASC;

-- metabase: starts-with filter
SELECT "bidiff"."facts"."product" AS "product", max("bidiff"."facts"."units") AS "max"
FROM "bidiff"."facts"
WHERE "bidiff"."facts"."product" LIKE 'S%'
GROUP BY "bidiff"."facts"."product"
ORDER BY "bidiff"."facts"."product" ASC;

-- tableau: sum by region (Tableau aliases)
SELECT "facts"."region" AS "region", SUM("facts"."amount") AS "sum:amount:ok"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: integer measure summed as double precision
SELECT "facts"."channel" AS "channel", SUM(CAST("facts"."units" AS DOUBLE PRECISION)) AS "sum:units:ok"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: count distinct (ctd)
SELECT "facts"."category" AS "category", COUNT(DISTINCT "facts"."product") AS "ctd:product:ok"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: number of records, SUM(1)
SELECT "facts"."year" AS "year", SUM(1) AS "sum:Number of Records:ok"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: month truncation of a date, cast back to date
SELECT CAST(DATE_TRUNC('MONTH', CAST(("facts"."month" || '-01') AS DATE)) AS DATE) AS "tmn:month:ok", SUM("facts"."amount") AS "sum:amount:ok"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: year of a date as bigint
SELECT CAST(EXTRACT(YEAR FROM CAST(("facts"."month" || '-01') AS DATE)) AS BIGINT) AS "yr:month:ok", SUM("facts"."units") AS "sum:units:ok"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: quarter of a date as bigint
SELECT CAST(EXTRACT(QUARTER FROM CAST(("facts"."month" || '-01') AS DATE)) AS BIGINT) AS "qr:month:ok", COUNT(*) AS "cnt"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: month number (extract, numeric in PostgreSQL)
SELECT EXTRACT(MONTH FROM CAST(("facts"."month" || '-01') AS DATE)) AS "mn:month:ok", COUNT(*) AS "cnt"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: calculated field with CASE
SELECT (CASE WHEN ("facts"."units" > 250) THEN 'big' WHEN ("facts"."units" IS NULL) THEN NULL ELSE 'small' END) AS "Calculation_1", COUNT("facts"."units") AS "cnt:units:ok"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1 NULLS FIRST;

-- tableau: top 3 regions (inner join on a ranked subquery)
SELECT "facts"."region" AS "region", "facts"."channel" AS "channel", SUM("facts"."amount") AS "sum:amount:ok"
FROM "bidiff"."facts" "facts"
  INNER JOIN (SELECT "facts"."region" AS "region", SUM("facts"."amount") AS "$__alias__0"
    FROM "bidiff"."facts" "facts" GROUP BY 1 ORDER BY 2 DESC LIMIT 3) "t0" ON ("facts"."region" = "t0"."region")
GROUP BY 1, 2
ORDER BY 1, 2;

-- tableau: filter with OR IS NULL
SELECT "facts"."product" AS "product", AVG(CAST("facts"."units" AS DOUBLE PRECISION)) AS "avg:units:ok"
FROM "bidiff"."facts" "facts"
WHERE (("facts"."region" = 'North') OR ("facts"."region" IS NULL))
GROUP BY 1
ORDER BY 1;

-- tableau: standard deviations
SELECT "facts"."category" AS "category", STDDEV_SAMP(CAST("facts"."amount" AS DOUBLE PRECISION)) AS "std:amount:ok", STDDEV_POP(CAST("facts"."amount" AS DOUBLE PRECISION)) AS "stp:amount:ok"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: variances
SELECT "facts"."channel" AS "channel", VAR_SAMP(CAST("facts"."units" AS DOUBLE PRECISION)) AS "var:units:ok", VAR_POP(CAST("facts"."units" AS DOUBLE PRECISION)) AS "vrp:units:ok"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: month name (TO_CHAR 'FMMonth')
SELECT TO_CHAR(CAST(("facts"."month" || '-01') AS DATE), 'FMMonth') AS "mn", COUNT(*) AS "cnt"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: fixed LOD (join to a grouped subquery)
SELECT "facts"."region" AS "region", "facts"."category" AS "category", SUM("facts"."amount") AS "sum:amount:ok", MIN("t1"."__measure__0") AS "fixed"
FROM "bidiff"."facts" "facts"
  INNER JOIN (SELECT "facts"."region" AS "region", SUM("facts"."amount") AS "__measure__0" FROM "bidiff"."facts" "facts" GROUP BY 1) "t1"
  ON ("facts"."region" IS NOT DISTINCT FROM "t1"."region")
GROUP BY 1, 2
ORDER BY 1, 2;

-- tableau: string functions on a dimension
SELECT "facts"."product" AS "product", UPPER("facts"."product") AS "up", LOWER("facts"."product") AS "lo", LENGTH("facts"."product") AS "len"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: LEFT, RIGHT, SUBSTRING, STRPOS
SELECT "facts"."region" AS "region", LEFT("facts"."region", 3) AS "l3", RIGHT("facts"."region", 2) AS "r2", SUBSTRING("facts"."region" FROM 2 FOR 3) AS "mid", STRPOS("facts"."region", 'o') AS "pos"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: quick filter domain (channel)
SELECT "facts"."channel" AS "channel"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1 ASC;

-- tableau: integer division and modulo of a measure
SELECT "facts"."month" AS "month", SUM("facts"."units") / 7 AS "per_day", SUM("facts"."units") % 7 AS "rest"
FROM "bidiff"."facts" "facts"
WHERE "facts"."year" = '2025'
GROUP BY 1
ORDER BY 1;

-- tableau: ratio with NULLIF guard
SELECT "facts"."region" AS "region", SUM("facts"."amount") / NULLIF(SUM(CAST("facts"."units" AS DOUBLE PRECISION)), 0) AS "price"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: FLOOR cast to bigint
SELECT CAST(FLOOR("facts"."amount" / 1000) AS BIGINT) AS "k", COUNT(*) AS "cnt"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1 NULLS LAST;

-- tableau: numeric division of a cast measure
SELECT "facts"."channel" AS "channel", CAST(SUM("facts"."units") AS NUMERIC) / 7 AS "weekly"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: CONCAT of dimensions
SELECT CONCAT("facts"."region", ' / ', "facts"."channel") AS "label", COUNT(*) AS "cnt"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: date part year as text
SELECT CAST(EXTRACT(YEAR FROM CAST(("facts"."month" || '-01') AS DATE)) AS TEXT) AS "yr", SUM("facts"."amount") AS "s"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: median via percentile_cont
SELECT "facts"."category" AS "category", PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY "facts"."amount") AS "med:amount:ok"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: attribute (min = max check)
SELECT "facts"."product" AS "product", (CASE WHEN MIN("facts"."category") = MAX("facts"."category") THEN MIN("facts"."category") ELSE NULL END) AS "attr:category:nk"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- tableau: date addition via interval
SELECT CAST((CAST(("facts"."month" || '-01') AS DATE) + INTERVAL '1 month') AS DATE) AS "next_month", COUNT(*) AS "cnt"
FROM "bidiff"."facts" "facts"
WHERE "facts"."year" = '2026'
GROUP BY 1
ORDER BY 1;

-- tableau: date difference in days
SELECT "facts"."month" AS "month", (CAST(("facts"."month" || '-01') AS DATE) - DATE '2025-01-01') AS "days"
FROM "bidiff"."facts" "facts"
GROUP BY 1
ORDER BY 1;

-- powerbi: sum by region (DirectQuery nesting)
select "_"."region", "_"."a0"
from (select "rows"."region" as "region", sum("rows"."amount") as "a0"
  from (select "_"."region" as "region", "_"."amount" as "amount" from "bidiff"."facts" "_") "rows"
  group by "region") "_"
where not "_"."a0" is null
order by "_"."region"
limit 1000001;

-- powerbi: sum of integer measure as numeric
select "rows"."channel" as "channel", sum(cast("rows"."units" as numeric)) as "a0"
from (select "_"."channel", "_"."units" from "bidiff"."facts" "_") "rows"
group by "channel"
order by "channel"
limit 1000001;

-- powerbi: table row count
select count(*) as "a0" from (select "_"."region" from "bidiff"."facts" "_") "_";

-- powerbi: count(1) and count of a column
select "_"."category", count(1) as "a0", count("_"."amount") as "a1"
from "bidiff"."facts" "_"
group by "_"."category"
order by "_"."category"
limit 1000001;

-- powerbi: distinct count
select "_"."year", count(distinct("_"."region")) as "a0"
from "bidiff"."facts" "_"
group by "_"."year"
order by "_"."year"
limit 1000001;

-- powerbi: filter on a list of months
select "_"."month", sum("_"."amount") as "a0"
from "bidiff"."facts" "_"
where "_"."month" in ('2025-01', '2025-02', '2026-12')
group by "_"."month"
order by "_"."month"
limit 1000001;

-- powerbi: range filter on a measure
select "_"."region", count(*) as "a0"
from "bidiff"."facts" "_"
where "_"."amount" >= 100 and "_"."amount" < 500
group by "_"."region"
order by "_"."region"
limit 1000001;

-- powerbi: null handling with case
select case when "_"."units" is null then 'blank' else 'value' end as "c0", count(*) as "a0"
from "bidiff"."facts" "_"
group by 1
order by 1
limit 1000001;

-- powerbi: rounding a double measure via numeric
select "_"."product", round(cast(sum("_"."amount") as numeric), 2) as "a0"
from "bidiff"."facts" "_"
group by "_"."product"
order by "_"."product"
limit 1000001;

-- powerbi: substring of month for the year
select substring("_"."month" from 1 for 4) as "c0", sum("_"."units") as "a0"
from "bidiff"."facts" "_"
group by 1
order by 1
limit 1000001;

-- powerbi: cast to date and filter
select cast(("_"."month" || '-01') as date) as "c0", count(*) as "a0"
from "bidiff"."facts" "_"
where cast(("_"."month" || '-01') as date) >= date '2026-07-01'
group by 1
order by 1
limit 1000001;

-- powerbi: coalesce of a measure
select "_"."region", sum(coalesce("_"."units", 0)) as "a0", min(coalesce("_"."amount", 0)) as "a1"
from "bidiff"."facts" "_"
group by "_"."region"
order by "_"."region"
limit 1000001;

-- powerbi: dimension values list
select "rows"."product" as "product"
from (select "_"."product" from "bidiff"."facts" "_") "rows"
group by "product"
order by "product"
limit 1000001;

-- powerbi: cast measure to text
select "_"."month", cast(max("_"."units") as text) as "a0"
from "bidiff"."facts" "_"
where "_"."year" = '2025'
group by "_"."month"
order by "_"."month"
limit 1000001;

-- powerbi: two measures and a filter on category
select "_"."region", "_"."channel", sum("_"."amount") as "a0", max("_"."units") as "a1"
from "bidiff"."facts" "_"
where "_"."category" = 'Food & Drink'
group by "_"."region", "_"."channel"
order by "_"."region", "_"."channel"
limit 1000001;

-- powerbi: not in filter
select "_"."region", avg("_"."amount") as "a0"
from "bidiff"."facts" "_"
where not ("_"."channel" in ('web'))
group by "_"."region"
order by "_"."region"
limit 1000001;

-- powerbi: floor of average
select "_"."category", floor(avg("_"."amount")) as "a0"
from "bidiff"."facts" "_"
group by "_"."category"
order by "_"."category"
limit 1000001;

-- powerbi: starts-with via left()
select "_"."product", count(*) as "a0"
from "bidiff"."facts" "_"
where left("_"."product", 1) = 'B'
group by "_"."product"
order by "_"."product"
limit 1000001;

-- powerbi: year and month as integers from the text
select cast(substring("_"."month" from 1 for 4) as integer) as "y", cast(substring("_"."month" from 6 for 2) as integer) as "m", count(*) as "a0"
from "bidiff"."facts" "_"
group by 1, 2
order by 1, 2
limit 1000001;

-- powerbi: top-n filter (join to the ranked subquery)
select "_"."product", sum("_"."amount") as "a0"
from "bidiff"."facts" "_"
inner join (select "product" from "bidiff"."facts" group by "product" order by sum("units") desc nulls last, "product" limit 5) "t" on "t"."product" = "_"."product"
group by "_"."product"
order by "_"."product"
limit 1000001;

-- superset: sum by region, metric label
SELECT region AS region, sum(amount) AS "SUM(amount)"
FROM bidiff.facts
GROUP BY region
ORDER BY "SUM(amount)" DESC
LIMIT 10000;

-- superset: time series by month (__timestamp)
SELECT DATE_TRUNC('month', CAST(month || '-01' AS TIMESTAMP)) AS __timestamp, sum(units) AS "SUM(units)"
FROM bidiff.facts
GROUP BY DATE_TRUNC('month', CAST(month || '-01' AS TIMESTAMP))
ORDER BY __timestamp
LIMIT 10000;

-- superset: time series by week grain
SELECT DATE_TRUNC('week', CAST(month || '-01' AS TIMESTAMP)) AS __timestamp, count(*) AS count
FROM bidiff.facts
GROUP BY DATE_TRUNC('week', CAST(month || '-01' AS TIMESTAMP))
ORDER BY __timestamp
LIMIT 10000;

-- superset: time series by year grain with a series dimension
SELECT DATE_TRUNC('year', CAST(month || '-01' AS TIMESTAMP)) AS __timestamp, channel AS channel, sum(amount) AS "SUM(amount)"
FROM bidiff.facts
GROUP BY DATE_TRUNC('year', CAST(month || '-01' AS TIMESTAMP)), channel
ORDER BY __timestamp, channel
LIMIT 10000;

-- superset: big number
SELECT sum(units) AS "SUM(units)" FROM bidiff.facts LIMIT 50000;

-- superset: big number with trendline
SELECT DATE_TRUNC('quarter', CAST(month || '-01' AS TIMESTAMP)) AS __timestamp, count(*) AS count
FROM bidiff.facts
GROUP BY DATE_TRUNC('quarter', CAST(month || '-01' AS TIMESTAMP))
ORDER BY __timestamp;

-- superset: series limit (CTE of the top series joined back)
WITH series_limit AS (SELECT region AS region__, sum(amount) AS mme_inner__ FROM bidiff.facts GROUP BY region ORDER BY mme_inner__ DESC LIMIT 4)
SELECT month AS month, region AS region, sum(amount) AS "SUM(amount)"
FROM bidiff.facts JOIN series_limit ON region = region__
WHERE month >= '2026-01'
GROUP BY month, region
ORDER BY month, region
LIMIT 10000;

-- superset: pivot table (two dimensions, two metrics)
SELECT category AS category, channel AS channel, sum(amount) AS "SUM(amount)", count(*) AS count
FROM bidiff.facts
GROUP BY category, channel
ORDER BY category, channel
LIMIT 10000;

-- superset: pie chart with time range filter
SELECT channel AS channel, count(*) AS count
FROM bidiff.facts
WHERE month >= '2025-06' AND month < '2026-06'
GROUP BY channel
ORDER BY count DESC
LIMIT 100;

-- superset: box plot distribution (percentiles)
SELECT region AS region, percentile_cont(0.25) WITHIN GROUP (ORDER BY amount) AS q1, percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS median, percentile_cont(0.75) WITHIN GROUP (ORDER BY amount) AS q3
FROM bidiff.facts
GROUP BY region
ORDER BY region;

-- superset: histogram raw values
SELECT amount AS amount
FROM bidiff.facts
WHERE region = 'South' AND channel = 'web' AND amount IS NOT NULL
ORDER BY amount
LIMIT 10000;

-- superset: table chart with offset paging
SELECT product AS product, sum(amount) AS "SUM(amount)"
FROM bidiff.facts
GROUP BY product
ORDER BY product
LIMIT 5 OFFSET 5;

-- superset: range metric
SELECT category AS category, MAX(amount) - MIN(amount) AS "range"
FROM bidiff.facts
GROUP BY category
ORDER BY category;

-- superset: avg units (numeric)
SELECT year AS year, AVG(units) AS "AVG(units)"
FROM bidiff.facts
GROUP BY year
ORDER BY year;

-- superset: metric with a CASE adhoc expression
SELECT region AS region, SUM(CASE WHEN channel = 'web' THEN amount ELSE 0 END) AS "web amount"
FROM bidiff.facts
GROUP BY region
ORDER BY region
LIMIT 10000;

-- superset: samples (raw rows)
SELECT * FROM bidiff.facts
ORDER BY region, product, month, channel
LIMIT 100;

-- superset: filter select values (distinct)
SELECT DISTINCT category AS category FROM bidiff.facts ORDER BY category LIMIT 1000;

-- superset: rolling mean via window
SELECT __timestamp, avg("SUM(amount)") OVER (ORDER BY __timestamp ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS rolling
FROM (SELECT DATE_TRUNC('month', CAST(month || '-01' AS TIMESTAMP)) AS __timestamp, sum(amount) AS "SUM(amount)" FROM bidiff.facts GROUP BY 1) t
ORDER BY __timestamp;

-- superset: time comparison (lag one year)
SELECT month, s, lag(s, 12) OVER (ORDER BY month) AS prev_year
FROM (SELECT month, sum(units) AS s FROM bidiff.facts GROUP BY month) t
ORDER BY month;

-- superset: count distinct metric
SELECT channel AS channel, COUNT(DISTINCT product) AS "COUNT_DISTINCT(product)"
FROM bidiff.facts
GROUP BY channel
ORDER BY channel;

-- looker: explore with coalesce(sum) and LIMIT 500
SELECT
    facts."region"  AS "facts.region",
    COALESCE(SUM(facts."amount"), 0) AS "facts.total_amount"
FROM "bidiff"."facts" AS facts
GROUP BY 1
ORDER BY 2 DESC
LIMIT 500;

-- looker: dimension group month (TO_CHAR of DATE_TRUNC)
SELECT
    TO_CHAR(DATE_TRUNC('month', CAST(facts."month" || '-01' AS TIMESTAMP)), 'YYYY-MM') AS "facts.created_month",
    COUNT(*) AS "facts.count"
FROM "bidiff"."facts" AS facts
GROUP BY DATE_TRUNC('month', CAST(facts."month" || '-01' AS TIMESTAMP))
ORDER BY 1 DESC
LIMIT 500;

-- looker: dimension group date (TO_CHAR YYYY-MM-DD)
SELECT
    TO_CHAR(CAST(facts."month" || '-01' AS DATE), 'YYYY-MM-DD') AS "facts.created_date",
    COALESCE(SUM(facts."units"), 0) AS "facts.total_units"
FROM "bidiff"."facts" AS facts
GROUP BY 1
ORDER BY 1
LIMIT 500;

-- looker: dimension group quarter ('YYYY-"Q"Q')
SELECT
    TO_CHAR(DATE_TRUNC('quarter', CAST(facts."month" || '-01' AS TIMESTAMP)), 'YYYY-"Q"Q') AS "facts.created_quarter",
    COUNT(*) AS "facts.count"
FROM "bidiff"."facts" AS facts
GROUP BY 1
ORDER BY 1
LIMIT 500;

-- looker: dimension group year as integer
SELECT
    EXTRACT(YEAR FROM CAST(facts."month" || '-01' AS TIMESTAMP))::integer AS "facts.created_year",
    COUNT(DISTINCT facts."product") AS "facts.product_count"
FROM "bidiff"."facts" AS facts
GROUP BY 1
ORDER BY 1
LIMIT 500;

-- looker: derived table CTE
WITH facts_by_region AS (SELECT region, SUM(amount) AS total FROM "bidiff"."facts" GROUP BY 1)
SELECT
    facts_by_region."region" AS "facts_by_region.region",
    facts_by_region."total" AS "facts_by_region.total"
FROM facts_by_region
ORDER BY 2 DESC
LIMIT 500;

-- looker: totals row (no group by)
SELECT
    COALESCE(SUM(facts."amount"), 0) AS "facts.total_amount",
    COUNT(*) AS "facts.count"
FROM "bidiff"."facts" AS facts
WHERE (facts."year" = '2026')
LIMIT 1;

-- looker: tier dimension (CASE with sort helper)
SELECT
    CASE WHEN facts."amount" < 0 THEN '0' WHEN facts."amount" >= 0 AND facts."amount" < 500 THEN '1' WHEN facts."amount" >= 500 AND facts."amount" < 1500 THEN '2' WHEN facts."amount" >= 1500 THEN '3' ELSE '4' END AS "facts.amount_tier__sort_",
    CASE WHEN facts."amount" < 0 THEN 'Below 0' WHEN facts."amount" >= 0 AND facts."amount" < 500 THEN '0 to 499' WHEN facts."amount" >= 500 AND facts."amount" < 1500 THEN '500 to 1499' WHEN facts."amount" >= 1500 THEN '1500 or Above' ELSE 'Undefined' END AS "facts.amount_tier",
    COUNT(*) AS "facts.count"
FROM "bidiff"."facts" AS facts
GROUP BY 1, 2
ORDER BY 1
LIMIT 500;

-- looker: percent of total (window over the aggregate)
SELECT
    facts."channel" AS "facts.channel",
    COALESCE(SUM(facts."amount"), 0) AS "facts.total_amount",
    COALESCE(SUM(facts."amount"), 0) / SUM(COALESCE(SUM(facts."amount"), 0)) OVER () AS "facts.pct"
FROM "bidiff"."facts" AS facts
GROUP BY 1
ORDER BY 1
LIMIT 500;

-- looker: pivot (DENSE_RANK of the pivot column)
SELECT * FROM (
SELECT *, DENSE_RANK() OVER (ORDER BY z___min_rank) as z___pivot_row_rank, RANK() OVER (PARTITION BY z__pivot_col_rank ORDER BY z___min_rank) as z__pivot_col_ordering FROM (
SELECT *, MIN(z___rank) OVER (PARTITION BY "facts.region") as z___min_rank FROM (
SELECT *, RANK() OVER (ORDER BY "facts.region" ASC, z__pivot_col_rank) AS z___rank FROM (
SELECT *, DENSE_RANK() OVER (ORDER BY "facts.channel" ASC) AS z__pivot_col_rank FROM (
SELECT
    facts."channel" AS "facts.channel",
    facts."region" AS "facts.region",
    COALESCE(SUM(facts."units"), 0) AS "facts.total_units"
FROM "bidiff"."facts" AS facts
GROUP BY 1, 2) ww
) bb WHERE z__pivot_col_rank <= 16384
) aa
) xx
) zz
WHERE z___pivot_row_rank <= 500 OR z__pivot_col_ordering = 1
ORDER BY z___pivot_row_rank, z__pivot_col_rank;

-- looker: count distinct with CASE (filtered measure)
SELECT
    facts."category" AS "facts.category",
    COUNT(DISTINCT CASE WHEN facts."channel" = 'web' THEN facts."product" ELSE NULL END) AS "facts.web_products"
FROM "bidiff"."facts" AS facts
GROUP BY 1
ORDER BY 1
LIMIT 500;

-- looker: average with NULLIF denominator
SELECT
    facts."region" AS "facts.region",
    1.0 * SUM(facts."amount") / NULLIF(COUNT(facts."amount"), 0) AS "facts.avg_amount"
FROM "bidiff"."facts" AS facts
GROUP BY 1
ORDER BY 1
LIMIT 500;

-- looker: row numbers for a table calculation
SELECT
    facts."product" AS "facts.product",
    COALESCE(SUM(facts."units"), 0) AS "facts.total_units",
    ROW_NUMBER() OVER (ORDER BY COALESCE(SUM(facts."units"), 0) DESC, facts."product") AS "row"
FROM "bidiff"."facts" AS facts
GROUP BY 1
ORDER BY 3
LIMIT 500;

-- looker: filter with IN and NOT NULL
SELECT
    facts."quarter" AS "facts.quarter",
    COALESCE(SUM(facts."amount"), 0) AS "facts.total_amount"
FROM "bidiff"."facts" AS facts
WHERE (facts."region" IN ('North', 'South', 'east')) AND (facts."units" IS NOT NULL)
GROUP BY 1
ORDER BY 1
LIMIT 500;

-- looker: dimension group month name and number
SELECT
    TO_CHAR(CAST(facts."month" || '-01' AS DATE), 'FMMonth') AS "facts.created_month_name",
    EXTRACT(MONTH FROM CAST(facts."month" || '-01' AS DATE))::integer AS "facts.created_month_num",
    COUNT(*) AS "facts.count"
FROM "bidiff"."facts" AS facts
GROUP BY 1, 2
ORDER BY 2
LIMIT 500;

-- looker: fetch next rows only
SELECT
    facts."region" AS "facts.region",
    COUNT(*) AS "facts.count"
FROM "bidiff"."facts" AS facts
GROUP BY 1
ORDER BY 1
FETCH NEXT 4 ROWS ONLY;

-- looker: median measure (percentile_cont)
SELECT
    facts."channel" AS "facts.channel",
    PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY facts."units") AS "facts.median_units"
FROM "bidiff"."facts" AS facts
GROUP BY 1
ORDER BY 1
LIMIT 500;

-- looker: string dimension with html-ish concatenation
SELECT
    facts."product" || ' (' || facts."category" || ')' AS "facts.product_label",
    COUNT(*) AS "facts.count"
FROM "bidiff"."facts" AS facts
GROUP BY 1
ORDER BY 1
LIMIT 500;

-- looker: symmetric aggregate style (md5 of the key)
SELECT
    facts."region" AS "facts.region",
    COUNT(DISTINCT md5(facts."product" || facts."month" || facts."channel")) AS "facts.cells"
FROM "bidiff"."facts" AS facts
GROUP BY 1
ORDER BY 1
LIMIT 500;

-- generic: rollup region, channel
SELECT region, channel, sum(amount) AS amount, count(*) AS n
FROM bidiff.facts
GROUP BY ROLLUP (region, channel)
ORDER BY region NULLS LAST, channel NULLS LAST;

-- generic: rollup over the month hierarchy with grouping()
SELECT year, quarter, GROUPING(year, quarter) AS g, sum(units) AS units
FROM bidiff.facts
GROUP BY ROLLUP (year, quarter)
ORDER BY year NULLS LAST, quarter NULLS LAST;

-- generic: cube of category and channel
SELECT category, channel, sum(amount) AS amount
FROM bidiff.facts
GROUP BY CUBE (category, channel)
ORDER BY category NULLS FIRST, channel NULLS FIRST;

-- generic: grouping sets
SELECT region, year, count(*) AS n, sum(units) AS units
FROM bidiff.facts
GROUP BY GROUPING SETS ((region), (year), ())
ORDER BY region NULLS LAST, year NULLS LAST;

-- generic: grouping sets with grouping() labels
SELECT CASE WHEN GROUPING(channel) = 1 THEN 'All channels' ELSE channel END AS channel_label, GROUPING(channel) AS g, max(amount) AS top
FROM bidiff.facts
GROUP BY GROUPING SETS ((channel), ())
ORDER BY g, channel_label;

-- generic: rollup with HAVING
SELECT category, product, sum(units) AS units
FROM bidiff.facts
GROUP BY ROLLUP (category, product)
HAVING sum(units) > 20000
ORDER BY category NULLS LAST, product NULLS LAST;

-- generic: rank within region
SELECT region, product, s, rank() OVER (PARTITION BY region ORDER BY s DESC) AS rk
FROM (SELECT region, product, sum(amount) AS s FROM bidiff.facts GROUP BY region, product) t
ORDER BY region, rk, product;

-- generic: dense_rank and row_number
SELECT channel, month, n, dense_rank() OVER (PARTITION BY channel ORDER BY n DESC) AS dr, row_number() OVER (PARTITION BY channel ORDER BY n DESC, month) AS rn
FROM (SELECT channel, month, count(*) AS n FROM bidiff.facts GROUP BY channel, month) t
ORDER BY channel, rn;

-- generic: ntile quartiles of products
SELECT product, s, ntile(4) OVER (ORDER BY s, product) AS quartile
FROM (SELECT product, sum(amount) AS s FROM bidiff.facts GROUP BY product) t
ORDER BY product;

-- generic: lag and lead with defaults
SELECT month, n, lag(n, 1, 0) OVER (ORDER BY month) AS prev, lead(n) OVER (ORDER BY month) AS next
FROM (SELECT month, count(*) AS n FROM bidiff.facts GROUP BY month) t
ORDER BY month;

-- generic: first_value and last_value over a full frame
SELECT region, month, s,
  first_value(s) OVER (PARTITION BY region ORDER BY month ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS first_s,
  last_value(s) OVER (PARTITION BY region ORDER BY month ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS last_s
FROM (SELECT region, month, sum(amount) AS s FROM bidiff.facts WHERE year = '2025' GROUP BY region, month) t
ORDER BY region, month;

-- generic: percent_rank and cume_dist
SELECT product, s, percent_rank() OVER (ORDER BY s) AS pr, cume_dist() OVER (ORDER BY s) AS cd
FROM (SELECT product, sum(units) AS s FROM bidiff.facts GROUP BY product) t
ORDER BY s, product;

-- generic: running total per channel (RANGE default frame)
SELECT channel, month, s, sum(s) OVER (PARTITION BY channel ORDER BY month) AS running
FROM (SELECT channel, month, sum(units) AS s FROM bidiff.facts GROUP BY channel, month) t
ORDER BY channel, month;

-- generic: moving average of 3 months
SELECT month, s, avg(s) OVER (ORDER BY month ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS ma3
FROM (SELECT month, sum(amount) AS s FROM bidiff.facts GROUP BY month) t
ORDER BY month;

-- generic: share within partition
SELECT region, channel, s, s / sum(s) OVER (PARTITION BY region) AS share
FROM (SELECT region, channel, sum(amount) AS s FROM bidiff.facts GROUP BY region, channel) t
ORDER BY region, channel;

-- generic: window count over partition on raw rows
SELECT region, product, month, channel, count(*) OVER (PARTITION BY region, product) AS cells
FROM bidiff.facts
WHERE channel = 'store' AND year = '2026' AND region = 'Zürich'
ORDER BY region, product, month, channel;

-- generic: named window
SELECT month, s, min(s) OVER w AS lo, max(s) OVER w AS hi
FROM (SELECT month, sum(amount) AS s FROM bidiff.facts GROUP BY month) t
WINDOW w AS (ORDER BY month ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)
ORDER BY month;

-- generic: top product per category (row_number filter)
SELECT category, product, s
FROM (SELECT category, product, sum(amount) AS s, row_number() OVER (PARTITION BY category ORDER BY sum(amount) DESC, product) AS rn
      FROM bidiff.facts GROUP BY category, product) t
WHERE rn = 1
ORDER BY category;

-- generic: two CTEs joined
WITH r AS (SELECT region, sum(amount) AS s FROM bidiff.facts GROUP BY region),
     c AS (SELECT region, count(*) AS n FROM bidiff.facts WHERE channel = 'web' GROUP BY region)
SELECT r.region, r.s, c.n
FROM r JOIN c ON r.region = c.region
ORDER BY r.region;

-- generic: CTE referenced twice
WITH m AS (SELECT month, sum(units) AS u FROM bidiff.facts GROUP BY month)
SELECT a.month, a.u, b.u AS prev_u
FROM m a LEFT JOIN m b ON b.month = to_char(CAST(a.month || '-01' AS date) - INTERVAL '1 month', 'YYYY-MM')
ORDER BY a.month;

-- generic: nested CTEs with a filter on an aggregate
WITH p AS (SELECT product, category, sum(amount) AS s FROM bidiff.facts GROUP BY product, category),
     big AS (SELECT * FROM p WHERE s > (SELECT avg(s) FROM p))
SELECT category, count(*) AS products, min(s) AS smallest
FROM big
GROUP BY category
ORDER BY category;

-- generic: recursive CTE (month sequence)
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 12)
SELECT n, (SELECT count(*) FROM bidiff.facts WHERE month = '2025-' || lpad(n::text, 2, '0')) AS cells
FROM seq
ORDER BY n;

-- generic: IN subquery
SELECT region, sum(amount) AS s
FROM bidiff.facts
WHERE product IN (SELECT product FROM bidiff.facts WHERE category = 'Toys' AND units > 490)
GROUP BY region
ORDER BY region;

-- generic: NOT IN subquery
SELECT product, count(*) AS n
FROM bidiff.facts
WHERE product NOT IN (SELECT product FROM bidiff.facts WHERE category = 'Hardware')
GROUP BY product
ORDER BY product;

-- generic: EXISTS correlated
SELECT DISTINCT f.region
FROM bidiff.facts f
WHERE EXISTS (SELECT 1 FROM bidiff.facts g WHERE g.region = f.region AND g.amount > 2490)
ORDER BY f.region;

-- generic: NOT EXISTS correlated
SELECT DISTINCT f.product
FROM bidiff.facts f
WHERE NOT EXISTS (SELECT 1 FROM bidiff.facts g WHERE g.product = f.product AND g.units = 0)
ORDER BY f.product;

-- generic: scalar correlated subquery
SELECT r.region, (SELECT max(amount) FROM bidiff.facts g WHERE g.region = r.region AND g.channel = 'partner') AS top_partner
FROM (SELECT DISTINCT region FROM bidiff.facts) r
ORDER BY r.region;

-- generic: comparison with scalar subquery in HAVING
SELECT product, avg(amount) AS a
FROM bidiff.facts
GROUP BY product
HAVING avg(amount) > (SELECT avg(amount) FROM bidiff.facts)
ORDER BY product;

-- generic: derived table join on two dimensions
SELECT f.region, f.channel, sum(f.amount) AS s, max(t.total) AS total
FROM bidiff.facts f JOIN (SELECT region, sum(amount) AS total FROM bidiff.facts GROUP BY region) t ON t.region = f.region
GROUP BY f.region, f.channel
ORDER BY f.region, f.channel;

-- generic: to_char 'Mon YYYY'
SELECT to_char(CAST(month || '-01' AS date), 'Mon YYYY') AS label, count(*) AS n
FROM bidiff.facts
GROUP BY month
ORDER BY month;

-- generic: to_char 'DD/MM/YYYY'
SELECT DISTINCT to_char(CAST(month || '-01' AS date), 'DD/MM/YYYY') AS d, month
FROM bidiff.facts
ORDER BY month;

-- generic: to_char 'YYYY"Q"Q' on a date
SELECT DISTINCT to_char(CAST(month || '-01' AS date), 'YYYY"Q"Q') AS q, quarter
FROM bidiff.facts
ORDER BY quarter;

-- generic: to_char with day and month names
SELECT DISTINCT month, to_char(CAST(month || '-01' AS date), 'Dy, DD Mon YYYY') AS d
FROM bidiff.facts
WHERE year = '2025'
ORDER BY month;

-- generic: to_char of a number with FM pattern
SELECT region, to_char(sum(units), 'FM999G999G999') AS units
FROM bidiff.facts
GROUP BY region
ORDER BY region;

-- generic: to_char of a float with decimals
SELECT region, to_char(max(amount), 'FM99990.00') AS top
FROM bidiff.facts
GROUP BY region
ORDER BY region;

-- generic: to_date of the month text
SELECT to_date(month, 'YYYY-MM') AS d, count(*) AS n
FROM bidiff.facts
GROUP BY month
ORDER BY month;

-- generic: to_date with a literal
SELECT to_date('2026-03', 'YYYY-MM') AS d;

-- generic: extract year and month from a cast (numeric)
SELECT DISTINCT extract(year FROM CAST(month || '-01' AS date)) AS y, extract(month FROM CAST(month || '-01' AS date)) AS m
FROM bidiff.facts
ORDER BY y, m;

-- generic: date_part (double precision)
SELECT DISTINCT date_part('quarter', CAST(month || '-01' AS date)) AS q, quarter
FROM bidiff.facts
ORDER BY quarter;

-- generic: date_trunc of a date (timestamptz in PostgreSQL)
SELECT DISTINCT date_trunc('year', CAST(month || '-01' AS date)) AS y
FROM bidiff.facts
ORDER BY y;

-- generic: month text cast to date, as a date column
SELECT DISTINCT CAST(month || '-01' AS date) AS d
FROM bidiff.facts
WHERE year = '2026'
ORDER BY d;

-- generic: date arithmetic: last day of month
SELECT DISTINCT month, CAST(CAST(month || '-01' AS date) + INTERVAL '1 month' - INTERVAL '1 day' AS date) AS last_day
FROM bidiff.facts
ORDER BY month;

-- generic: filter on a date range of the cast month
SELECT quarter, sum(amount) AS s
FROM bidiff.facts
WHERE CAST(month || '-01' AS date) BETWEEN DATE '2025-04-01' AND DATE '2025-09-30'
GROUP BY quarter
ORDER BY quarter;

-- generic: timestamp literal comparison
SELECT count(*) AS n FROM bidiff.facts WHERE CAST(month || '-01' AS timestamp) >= TIMESTAMP '2026-01-01 00:00:00';

-- generic: (x)::int rounds half away from zero
SELECT (999.99)::int AS a, (2.5)::int AS b, (-2.5)::int AS c, (0.5)::int AS d;

-- generic: double precision to int rounds half to even
SELECT (2.5::float8)::int AS a, (3.5::float8)::int AS b, (-2.5::float8)::int AS c;

-- generic: measure cast to int
SELECT region, (sum(amount))::int AS s
FROM bidiff.facts
GROUP BY region
ORDER BY region;

-- generic: avg cast to bigint
SELECT channel, CAST(avg(amount) AS bigint) AS a
FROM bidiff.facts
GROUP BY channel
ORDER BY channel;

-- generic: cast to numeric with scale
SELECT category, CAST(sum(amount) AS numeric(14, 2)) AS s
FROM bidiff.facts
GROUP BY category
ORDER BY category;

-- generic: ::numeric of a measure then round
SELECT product, round(avg(amount)::numeric, 2) AS a
FROM bidiff.facts
GROUP BY product
ORDER BY product;

-- generic: ::text of numbers
SELECT (1.50)::text AS a, (42)::text AS b, (2.5::float8)::text AS c, (10000000000)::text AS d;

-- generic: ::text of a measure
SELECT region, product, month, channel, units::text AS u, amount::text AS a
FROM bidiff.facts
ORDER BY region, product, month, channel
LIMIT 50;

-- generic: text to integer cast
SELECT DISTINCT year::int AS y FROM bidiff.facts ORDER BY y;

-- generic: smallint and real casts
SELECT CAST(12 AS smallint) AS s, CAST(1.25 AS real) AS r, CAST(7 AS bigint) AS b;

-- generic: integer literal types
SELECT 1 AS one, 2147483648 AS big, 1.5 AS num, 'x' AS txt, true AS b, NULL AS nothing;

-- generic: arithmetic result types
SELECT 7 / 2 AS idiv, 7 % 3 AS imod, 7.0 / 2 AS ndiv, 2 ^ 10 AS pow, abs(-3) AS a;

-- generic: numeric rounding functions
SELECT round(2.5) AS r1, round(-2.5) AS r2, round(2.345, 2) AS r3, trunc(2.789, 1) AS t, ceil(2.1) AS c, floor(-2.1) AS f;

-- generic: float rounding functions on a measure
SELECT region, round(max(amount)) AS r, ceil(min(amount)) AS c, trunc(avg(amount)) AS t
FROM bidiff.facts
GROUP BY region
ORDER BY region;

-- generic: CASE with mixed branches
SELECT channel, CASE WHEN sum(units) > 100000 THEN 'high' WHEN sum(units) > 50000 THEN 'mid' ELSE 'low' END AS band
FROM bidiff.facts
GROUP BY channel
ORDER BY channel;

-- generic: simple CASE
SELECT CASE channel WHEN 'web' THEN 'Online' WHEN 'store' THEN 'Retail' ELSE 'Other' END AS kind, count(*) AS n
FROM bidiff.facts
GROUP BY 1
ORDER BY 1;

-- generic: COALESCE of a NULL measure in raw rows
SELECT region, product, month, channel, COALESCE(units, -1) AS u, COALESCE(amount, 0.0) AS a
FROM bidiff.facts
WHERE units IS NULL OR amount IS NULL
ORDER BY region, product, month, channel
LIMIT 100;

-- generic: NULLIF on a dimension
SELECT NULLIF(channel, 'web') AS ch, count(*) AS n
FROM bidiff.facts
GROUP BY 1
ORDER BY 1 NULLS FIRST;

-- generic: count of NULL measures per region (FILTER clause)
SELECT region, count(*) FILTER (WHERE units IS NULL) AS no_units, count(*) FILTER (WHERE amount IS NULL) AS no_amount
FROM bidiff.facts
GROUP BY region
ORDER BY region;

-- generic: sum with FILTER
SELECT year, sum(amount) FILTER (WHERE channel = 'web') AS web, sum(amount) FILTER (WHERE channel <> 'web') AS other
FROM bidiff.facts
GROUP BY year
ORDER BY year;

-- generic: ORDER BY a measure NULLS FIRST
SELECT region, product, month, channel, units
FROM bidiff.facts
WHERE region = 'east' AND channel = 'web'
ORDER BY units NULLS FIRST, product, month
LIMIT 30;

-- generic: ORDER BY a measure DESC NULLS LAST
SELECT region, product, month, channel, amount
FROM bidiff.facts
WHERE region = 'North' AND channel = 'partner'
ORDER BY amount DESC NULLS LAST, product, month
LIMIT 30;

-- generic: default NULL ordering (ASC puts NULLs last)
SELECT product, month, units
FROM bidiff.facts
WHERE region = '東京' AND channel = 'store' AND year = '2025'
ORDER BY units, product, month;

-- generic: default NULL ordering (DESC puts NULLs first)
SELECT product, month, amount
FROM bidiff.facts
WHERE region = 'São Paulo' AND channel = 'web' AND quarter = '2026-Q2'
ORDER BY amount DESC, product, month;

-- generic: OFFSET ... FETCH FIRST
SELECT product, sum(amount) AS s
FROM bidiff.facts
GROUP BY product
ORDER BY product
OFFSET 3 ROWS FETCH FIRST 5 ROWS ONLY;

-- generic: FETCH FIRST without offset
SELECT region, count(*) AS n
FROM bidiff.facts
GROUP BY region
ORDER BY n DESC, region
FETCH FIRST 3 ROWS ONLY;

-- generic: LIMIT with OFFSET
SELECT month, sum(units) AS u
FROM bidiff.facts
GROUP BY month
ORDER BY month
LIMIT 6 OFFSET 12;

-- generic: OFFSET only
SELECT month FROM bidiff.facts GROUP BY month ORDER BY month OFFSET 20;

-- generic: quoted identifiers with spaces and case
SELECT "region" AS "Region Name", sum("amount") AS "Total Amount ($)", count(*) AS "# Cells"
FROM "bidiff"."facts" AS "F"
GROUP BY "region"
ORDER BY "Region Name";

-- generic: quoted alias referenced in ORDER BY and a subquery
SELECT "Sales"."Cat", "Sales"."Sum Units"
FROM (SELECT category AS "Cat", sum(units) AS "Sum Units" FROM bidiff.facts GROUP BY category) AS "Sales"
ORDER BY "Sales"."Sum Units" DESC;

-- generic: HAVING on count and sum
SELECT region, product, count(*) AS n, sum(amount) AS s
FROM bidiff.facts
GROUP BY region, product
HAVING count(*) > 35 AND sum(amount) > 40000
ORDER BY region, product;

-- generic: HAVING with an aggregate not selected
SELECT month
FROM bidiff.facts
GROUP BY month
HAVING max(units) = 500
ORDER BY month;

-- generic: string_agg of distinct members ordered
SELECT category, string_agg(DISTINCT product, ', ' ORDER BY product) AS products
FROM bidiff.facts
GROUP BY category
ORDER BY category;

-- generic: string_agg ordered by another column
SELECT region, string_agg(month, '|' ORDER BY month) AS months
FROM (SELECT DISTINCT region, month FROM bidiff.facts WHERE year = '2025' AND channel = 'web') t
GROUP BY region
ORDER BY region;

-- generic: string_agg without order over a single-member group
SELECT product, string_agg(category, ',') AS c
FROM (SELECT DISTINCT product, category FROM bidiff.facts) t
GROUP BY product
ORDER BY product;

-- generic: string_agg of distinct regions (unicode and quotes)
SELECT string_agg(DISTINCT region, ' ; ' ORDER BY region) AS regions FROM bidiff.facts;

-- generic: array_agg ordered
SELECT category, array_agg(DISTINCT product ORDER BY product) AS products
FROM bidiff.facts
GROUP BY category
ORDER BY category;

-- generic: array_agg of integers
SELECT region, array_agg(units ORDER BY month) AS units
FROM bidiff.facts
WHERE product = 'Widget' AND channel = 'web' AND year = '2025'
GROUP BY region
ORDER BY region;

-- generic: array_agg of doubles with NULLs
SELECT channel, array_agg(amount ORDER BY region) AS amounts
FROM bidiff.facts
WHERE product = 'Stapler' AND month = '2026-06'
GROUP BY channel
ORDER BY channel;

-- generic: array_length of array_agg
SELECT region, array_length(array_agg(DISTINCT channel), 1) AS channels
FROM bidiff.facts
GROUP BY region
ORDER BY region;

-- generic: percentile_cont of several fractions
SELECT channel, percentile_cont(0.1) WITHIN GROUP (ORDER BY amount) AS p10, percentile_cont(0.9) WITHIN GROUP (ORDER BY amount) AS p90
FROM bidiff.facts
GROUP BY channel
ORDER BY channel;

-- generic: percentile_disc of an integer measure
SELECT category, percentile_disc(0.5) WITHIN GROUP (ORDER BY units) AS median_units
FROM bidiff.facts
GROUP BY category
ORDER BY category;

-- generic: percentile_disc of a double measure
SELECT year, percentile_disc(0.9) WITHIN GROUP (ORDER BY amount) AS p90
FROM bidiff.facts
GROUP BY year
ORDER BY year;

-- generic: percentile_cont of an integer measure
SELECT region, percentile_cont(0.5) WITHIN GROUP (ORDER BY units) AS median_units
FROM bidiff.facts
GROUP BY region
ORDER BY region;

-- generic: mode() WITHIN GROUP
SELECT category, mode() WITHIN GROUP (ORDER BY channel) AS common_channel
FROM bidiff.facts
WHERE units > 400
GROUP BY category
ORDER BY category;

-- generic: count distinct of two columns
SELECT year, count(DISTINCT product) AS products, count(DISTINCT region) AS regions, count(DISTINCT (region, product)) AS pairs
FROM bidiff.facts
GROUP BY year
ORDER BY year;

-- generic: count distinct of a measure
SELECT channel, count(DISTINCT units) AS distinct_units
FROM bidiff.facts
GROUP BY channel
ORDER BY channel;

-- generic: bool_and / bool_or
SELECT region, bool_and(units IS NOT NULL) AS all_units, bool_or(amount > 2490) AS any_big
FROM bidiff.facts
GROUP BY region
ORDER BY region;

-- generic: UNION ALL of two aggregates
SELECT 'web' AS kind, sum(amount) AS s FROM bidiff.facts WHERE channel = 'web'
UNION ALL
SELECT 'other', sum(amount) FROM bidiff.facts WHERE channel <> 'web'
ORDER BY kind;

-- generic: UNION (distinct)
SELECT region AS name FROM bidiff.facts UNION SELECT category FROM bidiff.facts ORDER BY name;

-- generic: INTERSECT and EXCEPT
SELECT product FROM bidiff.facts WHERE units > 495
INTERSECT
SELECT product FROM bidiff.facts WHERE amount > 2490
EXCEPT
SELECT product FROM bidiff.facts WHERE category = 'Office'
ORDER BY product;

-- generic: self join on month
SELECT a.month, sum(a.amount) AS web, sum(b.amount) AS store
FROM bidiff.facts a JOIN bidiff.facts b ON a.region = b.region AND a.product = b.product AND a.month = b.month
WHERE a.channel = 'web' AND b.channel = 'store' AND a.year = '2026'
GROUP BY a.month
ORDER BY a.month;

-- generic: LEFT JOIN keeping unmatched
SELECT p.product, count(f.units) AS n
FROM (SELECT DISTINCT product FROM bidiff.facts) p
LEFT JOIN bidiff.facts f ON f.product = p.product AND f.units > 499
GROUP BY p.product
ORDER BY p.product;

-- generic: split_part, lpad, replace
SELECT DISTINCT quarter, split_part(quarter, '-', 2) AS q, lpad(split_part(quarter, '-', 1), 6, '*') AS y, replace(quarter, '-Q', ' quarter ') AS r
FROM bidiff.facts
ORDER BY quarter;

-- generic: initcap, reverse, repeat
SELECT DISTINCT channel, initcap(channel) AS c, reverse(channel) AS r, repeat(channel, 2) AS rr
FROM bidiff.facts
ORDER BY channel;

-- generic: length vs octet_length of unicode
SELECT DISTINCT region, length(region) AS chars, octet_length(region) AS bytes
FROM bidiff.facts
ORDER BY region;

-- generic: position, trim and translate
SELECT DISTINCT product, position('o' IN product) AS pos, btrim(product, 'S') AS t, translate(product, 'ae', 'AE') AS tr
FROM bidiff.facts
ORDER BY product;

-- generic: regexp_replace
SELECT DISTINCT product, regexp_replace(product, '[^A-Za-z]', '', 'g') AS letters
FROM bidiff.facts
ORDER BY product;

-- generic: ILIKE filter
SELECT region, count(*) AS n
FROM bidiff.facts
WHERE region ILIKE '%O%'
GROUP BY region
ORDER BY region;

-- generic: string comparison with quotes in the literal
SELECT product, count(*) AS n
FROM bidiff.facts
WHERE product IN ('Kid''s Kite', 'Gadget "Pro"', 'Jus d''orange')
GROUP BY product
ORDER BY product;

-- generic: concatenation with a number
SELECT region || ': ' || count(*) AS label
FROM bidiff.facts
GROUP BY region
ORDER BY region;

-- generic: md5 of a member
SELECT DISTINCT region, md5(region) AS h FROM bidiff.facts ORDER BY region;

-- generic: GREATEST and LEAST
SELECT region, GREATEST(max(units), 499) AS g, LEAST(min(amount), 0) AS l
FROM bidiff.facts
GROUP BY region
ORDER BY region;

-- generic: IS DISTINCT FROM
SELECT count(*) AS n FROM bidiff.facts WHERE units IS DISTINCT FROM 100;

-- generic: boolean expression columns
SELECT region, product, month, channel, units > 250 AS big, amount IS NULL AS missing
FROM bidiff.facts
WHERE product = 'Ledger' AND month = '2025-01'
ORDER BY region, channel;

-- generic: numeric aggregate of a numeric cast
SELECT category, sum(amount::numeric) AS s, avg(units::numeric) AS a
FROM bidiff.facts
GROUP BY category
ORDER BY category;

-- generic: count(*) types and sum(int4)
SELECT count(*) AS n, count(units) AS nu, sum(1) AS s1, max(1) AS m1 FROM bidiff.facts;

-- generic: min and max of text dimensions
SELECT category, min(product) AS first_product, max(region) AS last_region
FROM bidiff.facts
GROUP BY category
ORDER BY category;

-- generic: DISTINCT ON
SELECT DISTINCT ON (category) category, product, amount
FROM bidiff.facts
WHERE amount IS NOT NULL
ORDER BY category, amount DESC, product, region, month, channel;

-- generic: generate_series of months joined to the cube
SELECT to_char(g, 'YYYY-MM') AS month, count(f.month) AS cells
FROM generate_series(DATE '2025-01-01', DATE '2025-06-01', INTERVAL '1 month') AS g
LEFT JOIN bidiff.facts f ON f.month = to_char(g, 'YYYY-MM') AND f.region = 'North'
GROUP BY g
ORDER BY g;

-- generic: VALUES list joined to the cube
SELECT v.label, sum(f.amount) AS s
FROM (VALUES ('web', 'Online'), ('store', 'Retail')) AS v(ch, label)
JOIN bidiff.facts f ON f.channel = v.ch
GROUP BY v.label
ORDER BY v.label;

-- generic: correlation and regression aggregates
SELECT channel, corr(units, amount) AS r, regr_slope(amount, units) AS slope
FROM bidiff.facts
GROUP BY channel
ORDER BY channel;

-- generic: scalar subqueries in the select list
SELECT (SELECT count(*) FROM bidiff.facts WHERE channel = 'web') AS web, (SELECT max(month) FROM bidiff.facts) AS last_month;

-- generic: EXISTS in the select list
SELECT DISTINCT region, EXISTS (SELECT 1 FROM bidiff.facts g WHERE g.region = f.region AND g.units = 500) AS has_500
FROM bidiff.facts f
ORDER BY region;

-- generic: ANY with an array literal
SELECT count(*) AS n FROM bidiff.facts WHERE region = ANY (ARRAY['North', 'east']);

-- generic: CASE inside an aggregate ratio
SELECT year, sum(CASE WHEN amount < 0 THEN 1 ELSE 0 END)::float8 / count(*) AS negative_share
FROM bidiff.facts
GROUP BY year
ORDER BY year;
