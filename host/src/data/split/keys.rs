//! Key columns as splitters need them: group ids and a time order. Values
//! compare as numbers when every one is a number, else as text (ISO dates
//! and times sort right as text).

use std::cmp::Ordering;

fn compare(numeric: bool) -> impl Fn(&str, &str) -> Ordering {
    move |a, b| match numeric {
        true => {
            a.parse::<f64>().unwrap_or(f64::NAN).total_cmp(&b.parse::<f64>().unwrap_or(f64::NAN))
        }
        false => a.cmp(b),
    }
}

fn all_numbers(cells: &[String]) -> bool {
    cells.iter().all(|c| c.parse::<f64>().is_ok_and(f64::is_finite))
}

/// Each row's group id: the rank of its value among the distinct values,
/// in sorted order (`np.unique`).
pub fn group_codes(cells: &[String]) -> Vec<u32> {
    let cmp = compare(all_numbers(cells));
    let mut distinct: Vec<&str> = cells.iter().map(String::as_str).collect();
    distinct.sort_by(|a, b| cmp(a, b));
    distinct.dedup_by(|a, b| cmp(a, b) == Ordering::Equal);
    cells
        .iter()
        .map(|c| distinct.binary_search_by(|d| cmp(d, c)).expect("every value is listed") as u32)
        .collect()
}

/// Rows sorted by their value (a stable sort: ties keep file order).
pub fn time_order(cells: &[String]) -> Vec<u32> {
    let cmp = compare(all_numbers(cells));
    let mut order: Vec<u32> = (0..cells.len() as u32).collect();
    order.sort_by(|&a, &b| cmp(&cells[a as usize], &cells[b as usize]));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn numbers_sort_as_numbers_and_text_as_text() {
        assert_eq!(group_codes(&cells(&["10", "9", "10", "2"])), [2, 1, 2, 0]);
        assert_eq!(group_codes(&cells(&["b", "a", "b"])), [1, 0, 1]);
        assert_eq!(time_order(&cells(&["2024-03-01", "2024-01-15", "2024-02-01"])), [1, 2, 0]);
        assert_eq!(time_order(&cells(&["10", "9", "9"])), [1, 2, 0], "ties keep file order");
    }
}
