use omnichannel_domain::ValidationErrors;
use omnichannel_domain::ports::Page;

/// `limit` defaults to 50 and is capped at 500; below 1 it is invalid, and so is a
/// negative `offset`.
pub fn parse_page(limit: Option<i64>, offset: Option<i64>) -> Result<Page, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let limit = match limit {
        None => Page::DEFAULT_LIMIT,
        Some(limit) if limit < 1 => {
            errors.add("limit", "must be at least 1");
            Page::DEFAULT_LIMIT
        }
        Some(limit) => {
            u32::try_from(limit.min(i64::from(Page::MAX_LIMIT))).unwrap_or(Page::MAX_LIMIT)
        }
    };
    let offset = match offset {
        None => 0,
        Some(offset) => u64::try_from(offset).unwrap_or_else(|_| {
            errors.add("offset", "must not be negative");
            0
        }),
    };
    errors.into_result(Page { limit, offset })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_caps_and_refuses() {
        assert_eq!(
            parse_page(None, None),
            Ok(Page {
                limit: 50,
                offset: 0
            })
        );
        assert_eq!(
            parse_page(Some(501), Some(7)),
            Ok(Page {
                limit: 500,
                offset: 7
            })
        );
        assert_eq!(parse_page(Some(i64::MAX), None).map(|p| p.limit), Ok(500));
        let fields = |r: Result<Page, ValidationErrors>| {
            r.err()
                .map(|e| {
                    e.errors()
                        .iter()
                        .map(|e| e.field.clone())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        assert_eq!(fields(parse_page(Some(0), Some(-1))), ["limit", "offset"]);
    }
}
