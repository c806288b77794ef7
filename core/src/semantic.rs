//! LaunchDarkly's semantic patch (`Content-Type: application/json; domain-model=launchdarkly.semanticpatch`)
//! on flags and segments: `{"environmentKey"?, "comment"?, "instructions": [{"kind", ...}]}`.
//! Each instruction rewrites the resource's REST representation; the result is then validated as
//! a whole, exactly as a JSON Patch's result is ([`crate::resource::revise`]), so both kinds of
//! patch keep one set of rules. All instructions apply or none. An unknown instruction, an unknown
//! field of one, or a rule ID that does not exist is a 400 naming it.

use crate::error::Error;
use serde_json::{json, Map, Value};

fn invalid(m: impl Into<String>) -> Error {
    Error::invalid(m)
}

/// A body's `environmentKey` and its instructions.
type Parsed<'a> = (Option<&'a str>, Vec<&'a Map<String, Value>>);

/// The instructions of a body, and the body's `environmentKey`.
fn parse(body: &Value) -> Result<Parsed<'_>, Error> {
    let obj = body.as_object().ok_or_else(|| invalid("a semantic patch is {\"instructions\": [{\"kind\": ...}]}"))?;
    if let Some(other) = obj.keys().find(|k| !matches!(k.as_str(), "instructions" | "comment" | "environmentKey")) {
        return Err(invalid(format!("`{other}` is not a field of a semantic patch (use `environmentKey`, `instructions`, `comment`)")));
    }
    let list = obj.get("instructions").and_then(Value::as_array).filter(|l| !l.is_empty());
    let list = list.ok_or_else(|| invalid("`instructions` must be a non-empty array"))?;
    let instructions = list
        .iter()
        .enumerate()
        .map(|(i, v)| v.as_object().ok_or_else(|| invalid(format!("`instructions[{i}]` must be an object"))))
        .collect::<Result<_, _>>()?;
    let env = match obj.get("environmentKey") {
        None => None,
        Some(Value::String(e)) => Some(e.as_str()),
        Some(_) => return Err(invalid("`environmentKey` must be a string")),
    };
    Ok((env, instructions))
}

/// One instruction's fields, each read once; the instruction may have no other field.
struct Instruction<'a> {
    at: String,
    kind: &'a str,
    fields: &'a Map<String, Value>,
}

impl<'a> Instruction<'a> {
    fn new(i: usize, fields: &'a Map<String, Value>) -> Result<Self, Error> {
        let kind = fields.get("kind").and_then(Value::as_str).ok_or_else(|| invalid(format!("`instructions[{i}].kind` is required")))?;
        Ok(Instruction { at: format!("instructions[{i}]"), kind, fields })
    }

    /// Refuse a field not in `known` (besides `kind`).
    fn only(&self, known: &[&str]) -> Result<(), Error> {
        match self.fields.keys().find(|k| k.as_str() != "kind" && !known.contains(&k.as_str())) {
            Some(f) => Err(invalid(format!("`{}.{f}` is not a field of `{}`", self.at, self.kind))),
            None => Ok(()),
        }
    }

    fn required(&self, field: &str) -> Result<&'a Value, Error> {
        self.fields.get(field).ok_or_else(|| invalid(format!("`{}.{field}` is required for `{}`", self.at, self.kind)))
    }

    fn string(&self, field: &str) -> Result<&'a str, Error> {
        self.required(field)?.as_str().ok_or_else(|| invalid(format!("`{}.{field}` must be a string", self.at)))
    }

    fn strings(&self, field: &str) -> Result<Vec<&'a str>, Error> {
        let list = self.required(field)?.as_array().and_then(|l| l.iter().map(Value::as_str).collect::<Option<Vec<_>>>());
        list.ok_or_else(|| invalid(format!("`{}.{field}` must be an array of strings", self.at)))
    }

    fn array(&self, field: &str) -> Result<&'a Vec<Value>, Error> {
        self.required(field)?.as_array().ok_or_else(|| invalid(format!("`{}.{field}` must be an array", self.at)))
    }

    fn unknown(&self, supported: &[&str]) -> Error {
        invalid(format!(
            "`{}.kind`: `{}` is not an instruction here (supported: {}; anything else takes a JSON Patch)",
            self.at,
            self.kind,
            supported.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        ))
    }
}

/// The object at `doc[key]`, made an empty one if absent.
fn object<'d>(doc: &'d mut Value, key: &str) -> &'d mut Map<String, Value> {
    let slot = &mut doc[key];
    if !slot.is_object() {
        *slot = json!({});
    }
    slot.as_object_mut().expect("just made an object")
}

fn list<'d>(doc: &'d mut Value, key: &str) -> &'d mut Vec<Value> {
    let slot = &mut doc[key];
    if !slot.is_array() {
        *slot = json!([]);
    }
    slot.as_array_mut().expect("just made an array")
}

/// The position of the rule with `_id` `id` in `rules`.
fn rule_at(rules: &[Value], id: &str, at: &str) -> Result<usize, Error> {
    rules.iter().position(|r| r["_id"] == id).ok_or_else(|| invalid(format!("`{at}.ruleId`: there is no rule `{id}`")))
}

/// Rule instructions flags and segments share (on `rules` of `scope`); `false` if not one.
fn rule_instruction(ins: &Instruction, scope: &mut Value, rule_fields: &[&str]) -> Result<bool, Error> {
    match ins.kind {
        "removeRule" => {
            ins.only(&["ruleId"])?;
            let rules = list(scope, "rules");
            let i = rule_at(rules, ins.string("ruleId")?, &ins.at)?;
            rules.remove(i);
        }
        "reorderRules" => {
            ins.only(&["ruleIds"])?;
            let ids = ins.strings("ruleIds")?;
            let rules = list(scope, "rules");
            let mut sorted: Vec<&str> = ids.clone();
            sorted.sort_unstable();
            let mut have: Vec<&str> = rules.iter().filter_map(|r| r["_id"].as_str()).collect();
            have.sort_unstable();
            if sorted != have {
                return Err(invalid(format!("`{}.ruleIds` must name every rule once: {}", ins.at, have.join(", "))));
            }
            let mut next = Vec::with_capacity(rules.len());
            for id in ids {
                next.push(rules[rule_at(rules, id, &ins.at)?].clone());
            }
            *rules = next;
        }
        "addRule" => {
            let mut known = rule_fields.to_vec();
            known.extend(["clauses", "description", "beforeRuleId", "ruleId"]);
            ins.only(&known)?;
            ins.array("clauses")?;
            let mut rule: Map<String, Value> = ins.fields.iter().filter(|(k, _)| !matches!(k.as_str(), "kind" | "beforeRuleId" | "ruleId")).map(|(k, v)| (k.clone(), v.clone())).collect();
            if let Some(id) = ins.fields.get("ruleId") {
                rule.insert("_id".into(), id.clone());
            }
            let before = ins.fields.get("beforeRuleId").map(|_| ins.string("beforeRuleId")).transpose()?;
            let rules = list(scope, "rules");
            let at = match before {
                Some(id) => rule_at(rules, id, &ins.at)?,
                None => rules.len(),
            };
            rules.insert(at, Value::Object(rule));
        }
        "addClauses" => {
            ins.only(&["ruleId", "clauses"])?;
            let clauses = ins.array("clauses")?;
            let rules = list(scope, "rules");
            let i = rule_at(rules, ins.string("ruleId")?, &ins.at)?;
            list(&mut rules[i], "clauses").extend(clauses.iter().cloned());
        }
        "updateRuleDescription" => {
            ins.only(&["ruleId", "description"])?;
            let description = ins.string("description")?;
            let rules = list(scope, "rules");
            let i = rule_at(rules, ins.string("ruleId")?, &ins.at)?;
            rules[i]["description"] = json!(description);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

const FLAG_INSTRUCTIONS: &[&str] = &[
    "turnFlagOn", "turnFlagOff", "addRule", "removeRule", "reorderRules", "updateRuleVariationOrRollout",
    "addClauses", "removeClauses", "updateClause", "updateRuleDescription", "addTargets", "removeTargets",
    "addPrerequisite", "updatePrerequisite", "removePrerequisite", "updateFallthroughVariationOrRollout",
    "updateOffVariation", "updateName", "updateDescription",
];

/// What an instruction serves may be given as LaunchDarkly's clients give it.
const SERVE_FIELDS: &[&str] = &["variationId", "variation", "rolloutWeights", "rolloutBucketBy", "rolloutContextKind"];

/// Finds the index of another flag's variation by its `_id` (`(flag key, variation id)`), for
/// prerequisites.
pub type VariationOf<'a> = &'a dyn Fn(&str, &str) -> Option<usize>;

/// A flag's semantic patch, applied to its representation `doc`.
pub fn flag(doc: &mut Value, body: &Value, others: VariationOf) -> Result<(), Error> {
    let (env, instructions) = parse(body)?;
    for (i, fields) in instructions.into_iter().enumerate() {
        let ins = Instruction::new(i, fields)?;
        if top_level(&ins, doc)? {
            continue;
        }
        let env = env.ok_or_else(|| invalid(format!("`environmentKey` is required for `{}`", ins.kind)))?;
        let variations = doc["variations"].clone();
        let config = object(doc, "environments").entry(env.to_owned()).or_insert_with(|| json!({}));
        flag_instruction(&ins, config, &variations, others)?;
    }
    Ok(())
}

/// One environment-level instruction on `config` (the environment's part of the representation).
fn flag_instruction(ins: &Instruction, config: &mut Value, variations: &Value, others: VariationOf) -> Result<(), Error> {
    match ins.kind {
        "turnFlagOn" | "turnFlagOff" => {
            ins.only(&[])?;
            config["on"] = json!(ins.kind == "turnFlagOn");
        }
        "addRule" => {
            let mut known = SERVE_FIELDS.to_vec();
            known.extend(["clauses", "description", "beforeRuleId", "ruleId", "trackEvents"]);
            ins.only(&known)?;
            let mut fields: Map<String, Value> = ins.fields.iter().filter(|(k, _)| !SERVE_FIELDS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
            fields.extend(serve(ins, variations)?.as_object().cloned().unwrap_or_default());
            let normalized = Instruction { at: ins.at.clone(), kind: ins.kind, fields: &fields };
            rule_instruction(&normalized, config, &["variation", "rollout", "trackEvents"])?;
        }
        "updateRuleVariationOrRollout" => {
            let mut known = SERVE_FIELDS.to_vec();
            known.push("ruleId");
            ins.only(&known)?;
            let served = serve(ins, variations)?;
            let rules = list(config, "rules");
            let i = rule_at(rules, ins.string("ruleId")?, &ins.at)?;
            let rule = rules[i].as_object_mut().ok_or_else(|| invalid(format!("`rules[{i}]` is not a rule object")))?;
            rule.remove("variation");
            rule.remove("rollout");
            rule.extend(served.as_object().cloned().unwrap_or_default());
        }
        "removeClauses" | "updateClause" => clause_instruction(ins, config)?,
        "addTargets" | "removeTargets" => {
            ins.only(&["values", "contextKind", "variationId", "variation"])?;
            let values = ins.strings("values")?;
            let variation = variation(ins, variations)?;
            let kind = ins.fields.get("contextKind").map(|_| ins.string("contextKind")).transpose()?.unwrap_or("user");
            edit_flag_targets(config, kind, variation, &values, ins.kind == "addTargets");
        }
        "addPrerequisite" | "updatePrerequisite" | "removePrerequisite" => prerequisite(ins, config, others)?,
        "updateFallthroughVariationOrRollout" => {
            ins.only(SERVE_FIELDS)?;
            config["fallthrough"] = serve(ins, variations)?;
        }
        "updateOffVariation" => {
            ins.only(&["variationId", "variation"])?;
            config["offVariation"] = json!(variation(ins, variations)?);
        }
        _ if rule_instruction(ins, config, &["variation", "rollout", "trackEvents"])? => {}
        _ => return Err(ins.unknown(FLAG_INSTRUCTIONS)),
    }
    Ok(())
}

/// The variation an instruction names: `variationId` (a variation's `_id`) or `variation` (its index).
fn variation(ins: &Instruction, variations: &Value) -> Result<usize, Error> {
    variation_of(ins, ins.fields.get("variationId"), ins.fields.get("variation"), variations)?
        .ok_or_else(|| invalid(format!("`{}.variationId` is required for `{}`", ins.at, ins.kind)))
}

fn variation_of(ins: &Instruction, id: Option<&Value>, index: Option<&Value>, variations: &Value) -> Result<Option<usize>, Error> {
    let all = variations.as_array().map(Vec::as_slice).unwrap_or_default();
    if let Some(id) = id {
        let found = all.iter().position(|v| v["_id"] == *id);
        return found.map(Some).ok_or_else(|| invalid(format!("`{}.variationId`: the flag has no variation {id}", ins.at)));
    }
    match index {
        None => Ok(None),
        Some(v) => v.as_u64().map(|i| Some(i as usize)).ok_or_else(|| invalid(format!("`{}.variation` must be a variation index", ins.at))),
    }
}

/// What an instruction serves, as the representation holds it: `{"variation"}` from
/// `variationId`/`variation`, or `{"rollout"}` from `rolloutWeights` (`{variationId: weight}`),
/// `rolloutBucketBy` and `rolloutContextKind`.
fn serve(ins: &Instruction, variations: &Value) -> Result<Value, Error> {
    if let Some(weights) = ins.fields.get("rolloutWeights") {
        let weights = weights.as_object().ok_or_else(|| invalid(format!("`{}.rolloutWeights` must be {{variationId: weight}}", ins.at)))?;
        let mut slots = Vec::new();
        for (id, weight) in weights {
            let v = variation_of(ins, Some(&json!(id)), None, variations)?.expect("an id was given");
            let weight = weight.as_u64().ok_or_else(|| invalid(format!("`{}.rolloutWeights.{id}` must be an integer weight", ins.at)))?;
            slots.push(json!({"variation": v, "weight": weight}));
        }
        let mut rollout = json!({"variations": slots});
        for (field, name) in [("rolloutBucketBy", "bucketBy"), ("rolloutContextKind", "contextKind")] {
            if ins.fields.contains_key(field) {
                rollout[name] = json!(ins.string(field)?);
            }
        }
        return Ok(json!({"rollout": rollout}));
    }
    Ok(json!({"variation": variation(ins, variations)?}))
}

/// `removeClauses` (`ruleId`, `clauseIds`) and `updateClause` (`ruleId`, `clauseId`, `clause`).
fn clause_instruction(ins: &Instruction, config: &mut Value) -> Result<(), Error> {
    let rules = list(config, "rules");
    let i = rule_at(rules, ins.string("ruleId")?, &ins.at)?;
    let clauses = list(&mut rules[i], "clauses");
    let position = |clauses: &[Value], id: &str| {
        clauses.iter().position(|c| c["_id"] == id).ok_or_else(|| invalid(format!("`{}`: the rule has no clause `{id}`", ins.at)))
    };
    if ins.kind == "removeClauses" {
        ins.only(&["ruleId", "clauseIds"])?;
        for id in ins.strings("clauseIds")? {
            let j = position(clauses, id)?;
            clauses.remove(j);
        }
    } else {
        ins.only(&["ruleId", "clauseId", "clause"])?;
        let id = ins.string("clauseId")?;
        let j = position(clauses, id)?;
        let mut clause = ins.required("clause")?.clone();
        if !clause.is_object() {
            return Err(invalid(format!("`{}.clause` must be a clause object", ins.at)));
        }
        clause["_id"] = json!(id);
        clauses[j] = clause;
    }
    Ok(())
}

/// `addPrerequisite`, `updatePrerequisite` (`key`, and the prerequisite flag's `variationId` or
/// `variation` index) and `removePrerequisite` (`key`).
fn prerequisite(ins: &Instruction, config: &mut Value, others: VariationOf) -> Result<(), Error> {
    let remove = ins.kind == "removePrerequisite";
    ins.only(if remove { &["key"] } else { &["key", "variationId", "variation"] })?;
    let key = ins.string("key")?;
    let variation = || -> Result<usize, Error> {
        if ins.fields.contains_key("variationId") {
            let id = ins.string("variationId")?;
            return others(key, id).ok_or_else(|| invalid(format!("`{}.variationId`: flag `{key}` has no variation `{id}`", ins.at)));
        }
        let index = ins.fields.get("variation").and_then(Value::as_u64);
        index.map(|i| i as usize).ok_or_else(|| invalid(format!("`{}.variationId` is required for `{}`", ins.at, ins.kind)))
    };
    let list = list(config, "prerequisites");
    let at = list.iter().position(|p| p["key"] == key);
    match (ins.kind, at) {
        ("addPrerequisite", Some(_)) => return Err(invalid(format!("`{}.key`: `{key}` is already a prerequisite", ins.at))),
        ("addPrerequisite", None) => list.push(json!({"key": key, "variation": variation()?})),
        (_, None) => return Err(invalid(format!("`{}.key`: `{key}` is not a prerequisite", ins.at))),
        ("removePrerequisite", Some(i)) => {
            list.remove(i);
        }
        (_, Some(i)) => list[i]["variation"] = json!(variation()?),
    }
    Ok(())
}

/// Add `values` to (or remove them from) the individual targets of `variation` for `kind`:
/// `targets` for users, `contextTargets` for other kinds.
fn edit_flag_targets(config: &mut Value, kind: &str, variation: usize, values: &[&str], add: bool) {
    let lists = list(config, if kind == "user" { "targets" } else { "contextTargets" });
    let i = match lists.iter().position(|t| t["variation"] == variation && (kind == "user" || t["contextKind"] == kind)) {
        Some(i) => i,
        None => {
            lists.push(json!({"variation": variation, "contextKind": kind, "values": []}));
            lists.len() - 1
        }
    };
    let target = list(&mut lists[i], "values");
    for v in values {
        if add && !target.iter().any(|t| t == v) {
            target.push(json!(v));
        } else if !add {
            target.retain(|t| t != v);
        }
    }
}

/// `updateName` and `updateDescription`, on flags and segments alike; `false` if not one.
fn top_level(ins: &Instruction, doc: &mut Value) -> Result<bool, Error> {
    let field = match ins.kind {
        "updateName" => "name",
        "updateDescription" => "description",
        _ => return Ok(false),
    };
    ins.only(&["value"])?;
    doc[field] = json!(ins.string("value")?);
    Ok(true)
}

const SEGMENT_INSTRUCTIONS: &[&str] = &[
    "addIncludedTargets", "removeIncludedTargets", "addExcludedTargets", "removeExcludedTargets",
    "addRule", "removeRule", "reorderRules", "addClauses", "updateRuleDescription", "updateName", "updateDescription",
];

/// A segment's semantic patch, applied to its representation `doc` (its environment is in the path).
pub fn segment(doc: &mut Value, body: &Value) -> Result<(), Error> {
    let (_, instructions) = parse(body)?;
    for (i, fields) in instructions.into_iter().enumerate() {
        let ins = Instruction::new(i, fields)?;
        if top_level(&ins, doc)? {
            continue;
        }
        let (list_name, add) = match ins.kind {
            "addIncludedTargets" => ("included", true),
            "removeIncludedTargets" => ("included", false),
            "addExcludedTargets" => ("excluded", true),
            "removeExcludedTargets" => ("excluded", false),
            _ if rule_instruction(&ins, doc, &["weight", "bucketBy", "rolloutContextKind"])? => continue,
            _ => return Err(ins.unknown(SEGMENT_INSTRUCTIONS)),
        };
        ins.only(&["values", "contextKind"])?;
        let values = ins.strings("values")?;
        let kind = ins.fields.get("contextKind").map(|_| ins.string("contextKind")).transpose()?.unwrap_or("user");
        edit_targets(doc, list_name, kind, &values, add);
    }
    Ok(())
}

/// Add `values` to (or remove them from) a segment's `included`/`excluded` list: user keys in the
/// plain list, other kinds in `includedContexts`/`excludedContexts`.
fn edit_targets(doc: &mut Value, list_name: &str, kind: &str, values: &[&str], add: bool) {
    let target = if kind == "user" {
        list(doc, list_name)
    } else {
        let contexts = list(doc, &format!("{list_name}Contexts"));
        let i = match contexts.iter().position(|t| t["contextKind"] == kind) {
            Some(i) => i,
            None => {
                contexts.push(json!({"contextKind": kind, "values": []}));
                contexts.len() - 1
            }
        };
        list(&mut contexts[i], "values")
    };
    for v in values {
        let present = target.iter().any(|t| t == v);
        if add && !present {
            target.push(json!(v));
        } else if !add {
            target.retain(|t| t != v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_targets_and_rules() {
        let mut doc = json!({"key": "s", "included": ["a"], "rules": []});
        segment(&mut doc, &json!({"instructions": [
            {"kind": "addIncludedTargets", "values": ["b", "a"]},
            {"kind": "addExcludedTargets", "contextKind": "org", "values": ["o1"]},
            {"kind": "removeIncludedTargets", "values": ["a"]},
            {"kind": "addRule", "ruleId": "r1", "clauses": [{"attribute": "x", "op": "in", "values": [1]}], "weight": 5000},
            {"kind": "addRule", "ruleId": "r0", "beforeRuleId": "r1", "clauses": [{"attribute": "y", "op": "in", "values": [2]}]},
            {"kind": "removeRule", "ruleId": "r1"},
        ]})).unwrap();
        assert_eq!(doc["included"], json!(["b"]));
        assert_eq!(doc["excludedContexts"], json!([{"contextKind": "org", "values": ["o1"]}]));
        assert_eq!(doc["rules"].as_array().unwrap().iter().map(|r| r["_id"].clone()).collect::<Vec<_>>(), [json!("r0")]);
        let e = |body: Value| segment(&mut doc.clone(), &body).unwrap_err().to_string();
        assert!(e(json!({"instructions": [{"kind": "addIncludedTargets", "values": ["x"], "variationId": "v"}]}))
            .contains("`instructions[0].variationId` is not a field of `addIncludedTargets`"));
        assert!(e(json!({"instructions": [{"kind": "explode"}]})).contains("`explode` is not an instruction here"));
        assert!(e(json!({"instructions": [{"kind": "removeRule", "ruleId": "nope"}]})).contains("there is no rule `nope`"));
        assert!(e(json!({"instructions": []})).contains("non-empty array"));
        assert!(e(json!([{"op": "add"}])).contains("a semantic patch is"));
    }

    #[test]
    fn flag_instructions_name_variations_by_id() {
        let mut doc = json!({"key": "f", "variations": [{"_id": "v0", "value": 0}, {"_id": "v1", "value": 1}],
            "environments": {"production": {"rules": [{"_id": "r", "clauses": [{"_id": "c0", "attribute": "a", "op": "in", "values": [1]},
                {"_id": "c1", "attribute": "b", "op": "in", "values": [2]}], "variation": 0}]}}});
        let gate = |flag: &str, id: &str| (flag == "gate" && id == "g1").then_some(1);
        flag(&mut doc, &json!({"environmentKey": "production", "instructions": [
            {"kind": "addTargets", "values": ["u1", "u2"], "variationId": "v1"},
            {"kind": "addTargets", "contextKind": "org", "values": ["o"], "variationId": "v0"},
            {"kind": "removeTargets", "values": ["u1"], "variationId": "v1"},
            {"kind": "updateOffVariation", "variationId": "v1"},
            {"kind": "updateFallthroughVariationOrRollout", "rolloutWeights": {"v0": 30000, "v1": 70000}, "rolloutBucketBy": "email"},
            {"kind": "updateRuleVariationOrRollout", "ruleId": "r", "variationId": "v1"},
            {"kind": "removeClauses", "ruleId": "r", "clauseIds": ["c0"]},
            {"kind": "updateClause", "ruleId": "r", "clauseId": "c1", "clause": {"attribute": "b", "op": "in", "values": [3]}},
            {"kind": "addPrerequisite", "key": "gate", "variation": 0},
            {"kind": "addRule", "clauses": [{"attribute": "k", "op": "in", "values": ["x"]}], "variationId": "v0", "beforeRuleId": "r"},
            {"kind": "updatePrerequisite", "key": "gate", "variationId": "g1"},
        ]}), &gate).unwrap();
        let env = &doc["environments"]["production"];
        assert_eq!(env["targets"], json!([{"variation": 1, "contextKind": "user", "values": ["u2"]}]));
        assert_eq!(env["contextTargets"], json!([{"variation": 0, "contextKind": "org", "values": ["o"]}]));
        assert_eq!(env["offVariation"], 1);
        assert_eq!(env["fallthrough"], json!({"rollout": {"variations": [{"variation": 0, "weight": 30000}, {"variation": 1, "weight": 70000}], "bucketBy": "email"}}));
        assert_eq!(env["rules"][1]["variation"], 1);
        assert_eq!(env["rules"][1]["clauses"], json!([{"_id": "c1", "attribute": "b", "op": "in", "values": [3]}]));
        assert_eq!(env["prerequisites"], json!([{"key": "gate", "variation": 1}]));
        assert_eq!(env["rules"][0]["variation"], 0);
    }

    #[test]
    fn flag_instructions_need_an_environment() {
        let mut doc = json!({"key": "f", "environments": {"production": {"on": false, "rules": [
            {"_id": "a", "clauses": [], "variation": 0}, {"_id": "b", "clauses": [], "variation": 1}]}}});
        let body = json!({"environmentKey": "production", "instructions": [{"kind": "turnFlagOn"},
            {"kind": "reorderRules", "ruleIds": ["b", "a"]}, {"kind": "addClauses", "ruleId": "a", "clauses": [{"attribute": "k", "op": "in", "values": [1]}]},
            {"kind": "updateName", "value": "F"}]});
        let none = |_: &str, _: &str| None;
        flag(&mut doc, &body, &none).unwrap();
        let env = &doc["environments"]["production"];
        assert_eq!((env["on"].clone(), env["rules"][0]["_id"].clone(), env["rules"][1]["clauses"].as_array().unwrap().len()), (json!(true), json!("b"), 1));
        assert_eq!(doc["name"], "F");
        let e = |body: Value| flag(&mut doc.clone(), &body, &none).unwrap_err().to_string();
        assert!(e(json!({"instructions": [{"kind": "turnFlagOff"}]})).contains("`environmentKey` is required for `turnFlagOff`"));
        assert!(e(json!({"environmentKey": "production", "instructions": [{"kind": "reorderRules", "ruleIds": ["a"]}]})).contains("must name every rule once"));
        assert!(e(json!({"environmentKey": "production", "instructions": [{"kind": "addTargets", "values": ["u"], "variationId": "x"}]}))
            .contains("`instructions[0].variationId`: the flag has no variation \"x\""));
        assert!(e(json!({"environmentKey": "production", "instructions": [{"kind": "shipIt"}]})).contains("`shipIt` is not an instruction here"));
    }
}
