//! Reply records for applied txns, as Apache's FinalRequestProcessor builds them.

use crate::proto::codes::op;
use crate::proto::jute::Jute;
use crate::proto::records::{
    Create2Response, CreateResponse, ErrorResponse, MultiHeader, StatResponse,
};
use crate::proto::ErrorCode;
use crate::tree::TxnResult;

/// Appends the response record for request type `kind`, given the txn's result, to `out`
/// (nothing for header-only replies); the error to answer with instead, if the txn failed.
pub fn write_reply(kind: i32, res: &TxnResult, out: &mut Vec<u8>) -> Result<(), ErrorCode> {
    if kind == op::MULTI {
        multi_reply(res, out);
        return Ok(());
    }
    if res.err != ErrorCode::Ok {
        return Err(res.err);
    }
    single(kind, res, out);
    Ok(())
}

fn single(kind: i32, res: &TxnResult, out: &mut Vec<u8>) {
    let stat = || res.stat.clone().unwrap_or_default();
    match kind {
        op::CREATE => CreateResponse {
            path: res.path.clone(),
        }
        .write_to(out),
        op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => Create2Response {
            path: res.path.clone(),
            stat: stat(),
        }
        .write_to(out),
        op::SET_DATA | op::SET_ACL => StatResponse { stat: stat() }.write_to(out),
        _ => {}
    }
}

/// A multi reply: one (MultiHeader, result) per op, then the terminator. In a failed multi
/// every entry is an error entry (0 before the failure, the code, then −2), as Apache answers.
fn multi_reply(res: &TxnResult, out: &mut Vec<u8>) {
    let failed = res
        .multi
        .iter()
        .any(|s| s.kind == op::ERROR || s.err != ErrorCode::Ok);
    for sub in &res.multi {
        if failed {
            // Ops before the failing one report 0; error sub-txns carry their own code.
            let err = if sub.kind == op::ERROR {
                sub.err.code()
            } else {
                0
            };
            MultiHeader {
                op: op::ERROR,
                done: false,
                err,
            }
            .write_to(out);
            ErrorResponse { err }.write_to(out);
        } else {
            // A create result that carries a stat is typed create2 (Apache's CreateResult).
            let header_op = match sub.kind {
                op::CREATE_CONTAINER | op::CREATE_TTL => op::CREATE2,
                k => k,
            };
            MultiHeader {
                op: header_op,
                done: false,
                err: 0,
            }
            .write_to(out);
            match sub.kind {
                // Inside a multi, a check answers with nothing and a delete too.
                op::CHECK | op::DELETE => {}
                k => single(k, sub, out),
            }
        }
    }
    MultiHeader {
        op: -1,
        done: true,
        err: -1,
    }
    .write_to(out);
}
