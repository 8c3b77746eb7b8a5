//! Plain-text tables with left-aligned columns, as the scenario scripts parse them with awk
//! (columns separated by at least two spaces, no trailing blanks).

pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r.iter().zip(&widths).map(|(s, w)| format!("{s:<w$}")).collect();
        out += cells.join("  ").trim_end();
        out.push('\n');
    }
    out
}
