"""Sentences and the negation-scope rule the style reader reads them through.

Sentence embeddings barely register negation ("please, no homework" lies next to
"homework"), so a sentence with a negation cue is read as its *views*: each negated
scope ("homework", sign -1) and the rest of the sentence (sign +1), each embedded on
its own. :mod:`matcher.ranking.style` fits and reads its classifiers on these views.
See docs/style-reading.md for the rules and how each was chosen.
"""

from __future__ import annotations

import re

MAX_SENTENCES = 20
# A sentence ends after . ! ? or ; (not after a title such as "Dr.") or at a line break.
_SENTENCE_END = re.compile(
    r"(?<=[.!?;])(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bMrs\.)(?<!\bSt\.)\s+|\n+"
)


def split_sentences(text: str) -> list[str]:
    """The text's sentences (at most ``MAX_SENTENCES``); blank text has none.

    A question answered by a bare refusal stays one sentence ("Homework? Not for
    me." reads as "Homework? \u2014 Not for me."), so the refusal can reach back to it.
    """
    sentences: list[str] = []
    for part in _SENTENCE_END.split(text or ""):
        part = part.strip()
        if not part:
            continue
        question = re.search(r"\?[?!]*$", sentences[-1]) if sentences else None
        if sentences and _starts_with_refusal(part, after_question=question is not None):
            joint = " " if part[0] in "-\u2013\u2014" else " \u2014 "
            sentences[-1] += joint + part
        else:
            sentences.append(part)
    return sentences[:MAX_SENTENCES]


# --- negation scope -------------------------------------------------------------------------

# Uncertainty that contains a negation word but does not negate what follows.
_HEDGE = re.compile(
    r"\b(?:(?:i'?m |i am )?no[t]? (?:entirely |completely |totally |really |too |so |quite )?"
    r"(?:sure|certain)"
    # a worry about failing at what is wanted: "homework, though I worry I won't do it"
    r"|(?:i )?(?:worry|fear|(?:am|'m) (?:worried|afraid|scared))(?: that)?"
    r" (?:i(?:'ll| will| might| may)? )?(?:won'?t|can'?t|might not|may not|will not)"
    r"|(?:i )?(?:do ?n[o']?t|don'?t) (?:really |quite |even )?know(?: (?:yet|really))?"
    r"(?= *[,.?!;]|$| what| if| whether)"
    r"|not that i know"
    r"|(?:do|did|would|does)n'?t mind"  # "I don't mind homework" asks for it
    # acceptance: "no objection to a therapist running the show" asks for it
    r"|no (?:objections?|problem|issue|issues) (?:to|with)|not (?:against|opposed to|averse to)"
    r"|why not|nothing less|no less|more or less|more often than not"
    # "push me, even if I won't like it"; "I've never really tried that kind of thing"
    r"|even if (?:i|it) (?:won'?t|don'?t|doesn'?t|might not|may not)\b[^,;.]*"
    r"|i'?ve never (?:really )?(?:tried|done|had) (?:that|this|it)(?: kind of thing| before)?)",
    re.I,
)
# A concession, conceded and dropped: "It's not that I don't like kindness, but I need ...".
_CONCESSION = re.compile(
    r"\b(?:it'?s |it is )?not that (?:i|we) (?:do|did|would)n'?t [^,;]*[,;]\s*(?:but\s+)?", re.I
)
_NOT = (
    r"(?:(?:do|does|did|wo|ca|is|are|was|were|would|should|could|must|have|has|had|ai)n'?t"
    # Scots: "dinnae", "cannae", "wouldnae"
    r"|(?:din|did|can|could|would|should|is|was|will|does|have|are|must)nae|dinna)"
)
# Words and phrases that refuse or deny what follows them, up to the end of the clause.
_CUES = (
    r"(?:(?:the )?last thing (?:i|we|you) (?:need|want)(?: is)?|anything but|rather than|instead of"
    r"|(?:tired|sick|weary|sick to death) of|(?:fed up|scunnered|bored) with|done with"
    r"|i'?m (?:so |totally |completely )?(?:done|finished)(?! with)|enough of|no more"
    r"|zero interest in"
    r"|(?:little|no) (?:appetite|interest|patience|time|use|merit|value|sense) (?:for|in)"
    r"|(?:there'?s )?no point(?: in)?"
    # "My childhood is off limits", "Out of scope: X", "Homework is a dealbreaker"
    r"|out of scope|off[- ]limits|deal-?breakers?|no-go"
    r"|(?:can'?t|cannot|couldn'?t) (?:stand|handle|bear|face)|rather not|less|without"
    r"|refus(?:e|es|ed|ing)(?: to)?|spare me|hard pass|i'?ll pass|nope|nah"
    r"|steer(?:s|ing|ed)? clear of|allergic to|pass(?=[\s.!]*$)"
    # "I'm over X", "I've had it with X", "what's the point of X", "why would I want X?"
    r"|i'?m (?:so |totally |completely )?over(?! \d)|had it with|what'?s the point (?:of|in)"
    r"|why (?:would|should|do) (?:i|anyone|you) (?:want|need|pay|bother)(?: to)?"
    # "What put me off was X", "Unlike X, I ...", "Clients who want X might prefer someone
    # else" (the refused thing comes first)
    r"|(?:what )?(?:really )?(?:put|puts|turned|turns) me off(?: before| last time)?"
    r"(?: (?:was|is|were))?|put off by|unlike"
    r"|(?:might|may|would|will) (?:prefer|want|be better (?:off|suited) with) (?:someone|somebody"
    r"|a therapist|another therapist|a different therapist) else"
    r"|(?:might|may|should) (?:look|go) elsewhere"
    r"|rare|rarely|seldom|hardly|nobody|no one"
    r"|avoid(?:s|ed|ing)?|hate|stop|never|neither|nor|no|not|cannot|nothing|" + _NOT + r")"
)
_CUE = re.compile(rf"\b{_CUES}\b", re.I)
# Verbs that negate their object ("ignore my childhood"): one inside a negated scope
# cancels the negation ("I won't ignore your childhood" asks for the past), as does a
# second cue ("sick of therapists who never ask about my childhood").
_INNER = re.compile(
    r"\b(?:ignor(?:e|es|ed|ing)|skip(?:s|ped|ping)?|neglect(?:s|ed|ing)?|dismiss(?:es|ed|ing)?"
    r"|back(?:s|ed|ing)? off|hold(?:s|ing)? back|held back|shy(?:ing)? away"
    r"|brush(?:es|ed|ing)? (?:off|aside)|gloss(?:es|ed|ing)? over"
    r"|steer(?:s|ing)? (?:you |them |clients |people )?away|tiptoe(?:s|ing)?"
    r"|(?:leav(?:e|es|ing)|set(?:s|ting)?|put(?:s|ting)?) (?:\w+ )?aside|forg[eo]t(?:s|ting)?"
    r"|overlook(?:s|ed|ing)?|pretend(?:s|ed|ing)?(?: that)?|chang(?:e|es|ed|ing) the subject"
    # "too soft to give honest feedback" does not give it
    r"|too \w+ to"
    r"|afraid)\b",
    re.I,
)
# "more A than B" refuses B as "A rather than B" does, as does "about A more than about B";
# "more than ready" and "more comfortable than most" compare nothing.
_COMPARISON = re.compile(
    r"\b((?:more|better)\s[^,;:.!?\u2014\u2013]*?\w|more(?= than\b))"
    r"\s+than\b"
    r"(?!\s+(?:not|most|usual|before|ever|anyone|anybody|others|average|expected|anything"
    r"|happy|glad|willing|ready|able|enough|once|twice|a (?:few|couple|year|month|week)|\d"
    r"|i (?:expected|thought)))",
    re.I,
)
_RATHER = re.compile(r"\brather\b", re.I)
_RATHER_THAN = re.compile(r"\brather (?=than\b)", re.I)
# Inside a refused scope, what the refused thing lacks, replaces or makes an exception of
# is wanted: "I hate sessions with no direction", "can't stand validation without advice",
# "therapists who jump to solutions instead of listening", "who only validate and never
# challenge me", "I won't get better unless we look at my family" ask for the direction,
# advice, listening, challenge and family ("I won't ask about your childhood unless you
# insist" still refuses the childhood).
_LACKING = re.compile(
    r"\s\b(?:without|unless|with (?:no|zero)|instead of|rather than"
    r"|(?:and|but) (?:no|never|not|don'?t|doesn'?t|won'?t|can'?t))\s",
    re.I,
)
# A governing negation in a relative clause ("a therapist who refuses to ...").
_RELATIVE = re.compile(rf"\b(?:who|that|which)(?:'s| is| are)?\s+{_CUES}\b", re.I)
# A second negation that governs the scope ("therapists who never ask", "a therapist who
# refuses to", "say no to", "[want to] stop talking"); one further in ("floods you're
# not ready for") is local.
_NESTED = re.compile(rf"(?:^|\b(?:who|that|which|to|say|says|let'?s)\s+){_CUES}\b", re.I)
_CLAUSE = re.compile(r"\s*(?:[;:\u2014\u2013]|\s-\s|(?<!anything),?\s+but\s+)\s*", re.I)
# A scope ends at punctuation, at "but", or where a new clause starts ("... and I ...").
_SCOPE_END = re.compile(
    r"[,;:.!?\u2014\u2013]|\s-\s|\bbut\b"
    r"|\b(?:and|or|so|because|since|before|until|till|once)"
    r"\s+(?:i|i'm|i'd|i've|we|you|you're|they|they're|it's)\b"
    # "i dont need a cheerleader i need a coach", "Instead of drama I'd like calm"
    r"|\b(?=i(?:'d| would)? (?:just |really )?(?:need|want|like|prefer)\b)"
    # "I'd rather not revisit it and would like to focus on the present"
    r"|\band\s+(?=(?:would |'d )?(?:like|love|prefer|rather|want|need) to\b)",
    re.I,
)
_WORD = re.compile(r"[A-Za-z']+")
# A list item after a comma continues the scope; these words start a new clause instead.
_CLAUSE_START = frozenset(
    _WORD.findall(
        "i i'm i'd i've i'll we you it it's that this they he she my but and so because though"
        " although just please honestly thanks thank which who"
        # an imperative after a comma: "don't tell me the topic, let me pick"
        " let let's lets keep give tell help make instead maybe rather more simply only mostly"
        " ideally preferably that's"
        " we'll we're we've we'd you'll you're you've they're there's it'll"
    )
)
_LIST_ITEM_WORDS = 4
# "Without X[,] I ..." is a condition: the writer needs X.
_CONDITION = re.compile(r"\s*,?\s*\b(?:i|i'll|i'm|i'd|we|you)\b", re.I)
_AFTER_WISH = re.compile(
    r"\s*,?\s*(?:i|we)(?:'d| would)? (?:just |really )?(?:want|need|like|prefer|love)\b", re.I
)
# The wanting in "don't want to dig into my childhood" is the negation's, not the content's.
_LEAD = re.compile(
    r"^(?:(?:really|just|even|ever|again|simply|do|does|want|need|like|wish|think|believe in"
    r"|expect)"
    r"\s+)*(?:to\s+)?",
    re.I,
)
_STUB = {"i", "i'm", "i'd", "please"}  # a leading "I," or "Please," left by a removed scope
_MIN_REST_WORDS = 2
# Words that say nothing about what is refused: a negation followed by only these
# ("Not for me", "isn't what I'm after", "No thanks") refuses what came before it.
_FILLER = frozenset(
    _WORD.findall(
        """
        a absolutely after again all am an and any anymore are at be big but definitely do does
        done either enough even exactly fan for going gonna hard honestly how i i'd i'll i'm
        i've id im interested is it it's its job just kind like looking lol me much my need
        needed never no not now of ok okay one option or pass personally please process part
        quite really right so something sure thank thanks that that's the there thing things
        this thx time to tried ty want wanted was way were what will work works would you
        been doing help helps paying here offer offers offering provide style approach vibe
        cup tea with use good point cut fit idea therapy counselling counseling
        anywhere got get gets far go in too also more
        """
    )
)

# Cues that are verbs: after one, only a pronoun refuses what came before ("I hate it").
_VERB_CUE = re.compile(r"avoid|hate|stop|refus", re.I)
_PERSONAL = re.compile(r"(?:i|i'm|i'd|i've|i'll|we|we're|you|they|he|she|it)\b", re.I)
_PERSONS = frozenset(_WORD.findall("me you him her them us"))
_PRONOUNS = frozenset(_WORD.findall("it that this them those these all of"))
# A therapist the writer had before: what they did, the writer refuses ("My last therapist
# kept asking about my childhood and nothing got better"); what they never did, the
# writer wants.
_PAST_THERAPIST = re.compile(
    r"\b(?:(?:my|our|the) )?(?:very )?(?:last|previous|old|former|ex-?|past|prior|other)"
    r" (?:[\w-]+ )?(?:therapists?|counsell?ors?|psychologists?|psychiatrists?|shrinks?|one"
    r"|therapy|counsell?ing)\b"
    # "I once had a counsellor who", "Had two years of a counsellor just listening"
    r"|\b(?:i )?(?:once |previously |already |used to )?(?:had|saw|see)"
    r" (?:[\w-]+ ){0,3}?(?:a|an|this|one) (?:[\w-]+ )?(?:therapist|counsell?or|psychologist"
    r"|guy|bloke|woman|man|lady)\b"
    # "My CBT therapist refused to ...": a therapist of the writer's, told in the past tense
    r"|\bmy (?:[\w-]+ )?(?:therapist|counsell?or|psychologist)(?= (?:kept|refused|never|only"
    r"|used to|told|made|spent|ignored|changed|asked|said|gave|tried|wanted|insisted|pushed"
    r"|focus(?:s)?ed|just (?:\w+ed|said|sat|let)))"
    r"|^(?:the )?last time\b",
    re.I,
)
# ... unless the writer praises them ("My last therapist gave me homework, it helped").
_PRAISE = re.compile(
    r"\b(?:helped|helpful|loved|liked|great|amazing|wonderful|brilliant|good at|best"
    r"|worked (?:well|for me)|appreciated|miss)\b",
    re.I,
)
_PRAISE_NEGATION_REACH = 12  # characters before a word of praise that can negate it
# Quoted words, read as one phrase: "a therapist who asks 'so, where to start?'".
_QUOTED = re.compile(r"(?<!\w)(?:['\"\u201c])[^'\"\u201c\u201d]{2,80}?[\"'\u201d](?!\w)")
# A complaint's closing verdict, which refuses what it follows as the complaint already does.
_VERDICT = re.compile(
    r"(?:(?:,?\s*(?:\b(?:and|but|so)\s+)?\b(?:it|that|this|which|nothing)"
    # the writer's own verdict after a comma or "and": "and I never got anywhere"
    r"|(?:,\s*|\s\b(?:and|but|so)\s+)(?:i|we|i'?d|i'?ve)\b)"
    r"[^,;.]*?(?:n'?t|\bnot|\bnothing|\bno|\bnever|\bnowhere)\b"
    r"|(?:,\s*|\s\b(?:and|but|so)\s+)(?:nothing|no one|nobody)\b)"  # "and nothing changed"
    r"[^,;.]*[,;.!?\s]*$",
    re.I,
)
# Where the complaint ends: a new clause ("... \u2014 never again") ...
_CLAUSE_BREAK = re.compile(r"[;:\u2014\u2013]|\s-\s")
# ... or the writer's own wish.
_WISH = re.compile(
    r"\b(?:(?:i|we)(?:'d| would)? (?:really |just |now |actually )?"
    r"(?:need|needed|want|wanted|like|prefer|wish)|i'?m (?:now )?looking|this time|now i)\b",
    re.I,
)

# A negation that says its subject is of no use refuses the subject ("Raking over my
# childhood won't help me with the hearing"; "Being listened to is nice but it hasn't helped":
# the "it" points back).
_NO_USE = re.compile(
    r"(?:help|helps|helped|helping|work|works|worked|cut it|get me anywhere|got me anywhere"
    r"|do (?:anything|much) for me|do me any good|change (?:a|any)thing"
    r"|kept me (?:well|going|sane)|made (?:a|any|much) difference)\b",
    re.I,
)
# "Out of scope: childhood, parents": a refusal heading governs the list after its colon.
_HEADING = re.compile(
    r"^\s*((?:things )?to avoid|(?:please )?avoid|out of scope|off[- ]limits|not for me"
    r"|no-go(?: areas?)?|deal-?breakers?|hard no|no thanks(?: to)?|not interested in)\s*:\s*",
    re.I,
)

# Words between a refused subject and its negation ("Gentle and calm is not ...").
_COPULA = frozenset(
    _WORD.findall("is are was were be 's has have had that this it just really simply so of and")
)


def _is_filler(text: str) -> bool:
    """True when ``text`` has no words beyond :data:`_FILLER` and negation cues."""
    return all(word in _FILLER for word in _WORD.findall(_CUE.sub(" ", text.lower())))


def _starts_with_refusal(sentence: str, after_question: bool = True) -> bool:
    """True for a sentence that refuses the one before it: "Not for me.", "Rather not,
    thanks." and "Tried that, never again." after a question; "I don't want that again,
    I need feedback." and "Never again, please." after anything."""
    sentence = sentence.replace("\u2019", "'").lstrip("-\u2013\u2014 ")
    head = re.split(r"[,;:.!?\u2014\u2013]", sentence, maxsplit=1)[0]
    if not after_question and not re.search(r"\b(?:that|this|it|again)\b", sentence, re.I):
        return False  # after a statement, only a refusal that points back
    return any(_CUE.search(part) and _is_filler(part) for part in (head, sentence))


def negation_views(sentence: str) -> list[tuple[str, int]]:
    """How one sentence is read: ``[(text, sign)]``.

    A sentence without a negation cue is read as itself, ``[(sentence, 1)]``.
    Otherwise, per clause, each negation's scope (from the cue to the end of the
    clause) is a view of sign -1 (+1 when the scope holds a second negation or a
    verb that negates its object, as in "won't ignore") and what is left of the
    clause, if two words or more, a view of sign +1: "I don't need sympathy, I need
    strategies" gives ``[("sympathy", -1), ("I need strategies", 1)]``. A negation
    with nothing after it refuses what came before: "Gentle and calm is not what I
    need" gives ``[("Gentle and calm", -1)]``, and a clause that is only a refusal
    ("Homework \u2014 no thanks") flips the clause before it.
    """
    # one space between words: the clause and scope patterns backtrack over long runs
    clean = _HEDGE.sub(" ", re.sub(r"\s+", " ", sentence.replace("\u2019", "'")))
    clean, conceded = _CONCESSION.subn("", clean)  # "It's not that I don't mind X, but ..."
    clean = _QUOTED.sub(_unpunctuated, clean)  # "asks 'so, where to start?'" is one phrase
    clean = _HEADING.sub(r"\1 ", clean)  # "To avoid: homework" reads "To avoid homework"
    clean, compared = _COMPARISON.subn(r"\1 rather than", clean)  # "more support than challenge"
    complaint = _complaint(clean)
    if complaint is not None:  # what a past therapist did is what the writer refuses
        start, end = complaint
        before, told, after = clean[:start], clean[start:end], clean[end:]
        told = _VERDICT.sub("", told)  # "... and it did nothing": the complaint says so
        views = [(text, -sign) for text, sign in _views(told)]
        views += [view for part in (before, after) if _WORD.search(part) for view in _views(part)]
    elif _CUE.search(clean) or conceded:
        views = _views(clean)
    else:
        return [(sentence, 1)]
    if compared and not _RATHER.search(sentence):  # a comparison's "rather" is the rule's
        views = [(_RATHER_THAN.sub("", text), sign) for text, sign in views]
    return views or [(sentence, 1)]


def _unpunctuated(quote: re.Match[str]) -> str:
    """A quotation without its inner punctuation, so it stays in one clause and scope."""
    return re.sub(r"\s*[,;:.!?\u2014\u2013]+\s*", " ", quote.group()).replace("  ", " ")


def _views(clean: str) -> list[tuple[str, int]]:
    """The views of a sentence, cleaned of hedges and comparisons (see negation_views)."""
    if not _CUE.search(clean):
        return [(clean.strip(" ,.;:"), 1)] if _WORD.search(clean) else []
    views: list[tuple[str, int]] = []
    previous: tuple[int, str, bool] | None = None  # the last clause's first view, text, "?"
    for clause in _CLAUSE.split(clean):
        if not _WORD.search(clause):
            continue  # "Homework -- -- no thanks": an empty clause between the two
        first = len(views)
        remainder, refers_back = _read_clause(clause, views)
        if refers_back and previous is not None:
            start, text, question = previous
            earlier = views[start:first]
            # "Never again X. I don't like this." repeats a refusal; "No homework? Not for
            # me." refuses one
            if question or not earlier or any(sign > 0 for _, sign in earlier):
                flipped = [_refused(view) if sign > 0 else (view, 1) for view, sign in earlier]
                views[start:first] = flipped or ([_refused(text)] if text else [])
            first = len(views)
        if len(_WORD.findall(remainder)) >= _MIN_REST_WORDS and not _is_filler(remainder):
            views.append((remainder, 1))
        asks = clause.rstrip(" \"'").endswith("?")
        previous = (first, remainder if _WORD.search(remainder) else "", asks)
    return views


def _read_clause(clause: str, views: list[tuple[str, int]]) -> tuple[str, bool]:
    """Append the views of one clause's negated scopes to ``views``; return what is
    left of the clause and whether the clause refuses the one before it."""
    refused_subject = _refused_subject(clause)
    if refused_subject:  # "A therapist who refuses to look at my past won't work for me"
        views.extend((text, -sign) for text, sign in _views(refused_subject))
        return "", False
    position, rest, refers_back = 0, [], False
    while (cue := _CUE.search(clause, position)) is not None:
        before = clause[position : cue.start()]
        position = _scope_end(clause, cue.end())
        scope = _LEAD.sub("", clause[cue.end() : position].strip(" ,.'\""))
        if _is_contrast(cue.group(), scope):
            rest.append(before)  # "I want the therapist to steer, not me"
            continue
        subject = _strip_filler_tail(before)
        if _refuses_before(cue.group(), scope) or _says_no_use(scope, subject):
            # "... is not what I want": the refused thing came first
            if _is_filler(subject):
                refers_back = True
            else:
                views.append(_refused(subject))
            continue
        rest.append(before)
        lacking = _LACKING.search(scope)
        if lacking is not None and _WORD.search(scope[lacking.end() :]):
            views.append(_refused(scope[: lacking.start()], len(_NESTED.findall(scope))))
            views.append((scope[lacking.end() :].strip(" ,.'\""), 1))
            continue
        flips = len(_NESTED.findall(scope))
        if _is_condition(cue.group(), before, scope, clause[position:]):
            flips += 1  # "Without some tools, I'll go round in circles" asks for tools
        views.append(_refused(scope, flips))
    rest.append(clause[position:])
    remainder = re.sub(r"\s+([,.;:!?])", r"\1", " ".join(r.strip() for r in rest))
    head, comma, tail = remainder.strip(" ,.;:").partition(",")
    if comma and head.strip().lower() in _STUB:
        remainder = tail
    return re.sub(r"\s+", " ", remainder).strip(" ,.;:?!"), refers_back


def _is_contrast(cue: str, scope: str) -> bool:
    """True for "not" and only a person ("..., not me"): who does it, not a refusal."""
    words = set(_WORD.findall(scope.lower()))
    return cue.lower() == "not" and bool(words) and words <= _PERSONS


def _refuses_before(cue: str, scope: str) -> bool:
    """True when a negation refuses what came before it: nothing but filler follows it
    ("... is not what I need"); after a verb ("avoid", "hate"), only a pronoun ("I hate
    it"), as "when I notice you avoiding things" refuses nothing before it."""
    if not _is_filler(scope) or _CUE.search(scope):
        return False
    if _VERB_CUE.match(cue):
        return set(_WORD.findall(scope.lower())) <= _PRONOUNS
    return True


def _says_no_use(scope: str, subject: str) -> bool:
    """True when a negated scope says its subject is of no use: "Raking over my childhood
    [won't] help me with the hearing" refuses the raking, and "it [hasn't] helped" (its "it"
    stripped to nothing) points back; not "I don't work with couples" or "Please don't
    help me ...", whose subject is the writer."""
    if not _NO_USE.match(scope):
        return False
    return not subject or not (_is_filler(subject) or _PERSONAL.match(subject))


def _refused_subject(clause: str) -> str:
    """The subject of a refusal that comes last and whose subject holds a governing
    negation of its own ("A therapist who refuses to look at my past won't work for me":
    the subject), or ""; the subject is then read inverted, a double negation."""
    for cue in _CUE.finditer(clause):
        if cue.start() and _is_filler(clause[cue.start() :]):
            subject = _strip_filler_tail(clause[: cue.start()])
            if _is_filler(subject) or "," in clause[: cue.start()] or not _CUE.search(subject):
                return ""
            # "Chats without an agenda are of no use to me", "Avoiding feelings isn't how I
            # work"; not a clause of the writer's ("I don't want homework it won't help")
            # or an echo ("no homework, not now")
            if _RELATIVE.search(subject) or not _PERSONAL.match(subject):
                return subject
            return ""
    return ""


def _complaint(clean: str) -> tuple[int, int] | None:
    """Where a sentence tells what a past therapist did, unless it praises them: from the
    mention ("My last therapist ...") to the writer's own wish ("..., I need ...") or the
    end; ``None`` without one."""
    mention = _PAST_THERAPIST.search(clean)
    if mention is None or _praises(clean):
        return None
    if clean[: mention.start()].rstrip().lower().endswith("than"):
        return None  # "more structure than my last therapist" compares
    wish = _WISH.search(clean, mention.end())
    clause = _CLAUSE_BREAK.search(clean, mention.end())
    ends = [found.start() for found in (wish, clause) if found is not None]
    return mention.start(), min(ends, default=len(clean))


def _praises(text: str) -> bool:
    """True when ``text`` has a word of praise not just after a negation ("it helped",
    not "never helped")."""
    return any(
        not _CUE.search(text[max(0, praise.start() - _PRAISE_NEGATION_REACH) : praise.start()])
        for praise in _PRAISE.finditer(text)
    )


def _refused(text: str, flips: int = 0) -> tuple[str, int]:
    """The view of a refused ``text``: what follows its last verb that negates its object
    ("won't ignore my past" reads "my past"), each such verb cancelling the refusal."""
    inner = list(_INNER.finditer(text))
    if inner and _WORD.search(after := text[inner[-1].end() :].strip(" ,.?!'\"")):
        text = after
    return text, _sign(flips + len(inner))


def _sign(flips: int) -> int:
    """A refused scope's sign: -1, cancelled (+1) by an odd number of inner negations."""
    return 1 if flips % 2 else -1


def _is_condition(cue: str, before: str, scope: str, after: str) -> bool:
    """True for a clause-initial "Without X" followed by what happens to the writer
    ("Without tools, I go round in circles"), not by a wish ("Without an agenda, I want
    to say whatever comes to mind" refuses the agenda)."""
    if cue.lower() != "without" or before.strip() or _AFTER_WISH.match(after):
        return False
    return bool(_CONDITION.search(scope) or _CONDITION.match(after))


def _scope_end(clause: str, start: int) -> int:
    """Where a negation's scope that starts at ``start`` ends. A comma followed by a
    short list item ("no drills, tasks or exercises") does not end it, nor one after a
    single word ("can't handle heavy, draining sessions")."""
    scope_start = start
    while (end := _SCOPE_END.search(clause, start)) is not None:
        if end.group() != ",":
            return end.start()
        following = _SCOPE_END.search(clause, end.end())
        item = clause[end.end() : following.start() if following else len(clause)]
        words = _WORD.findall(item.lower())
        one_word_so_far = len(_WORD.findall(clause[scope_start : end.start()])) == 1
        short = len(words) <= _LIST_ITEM_WORDS or one_word_so_far
        named = item.strip()[:1].isupper()  # "Rather than leading, Priya follows ..."
        is_list_item = words and short and not named and words[0] not in _CLAUSE_START
        if not is_list_item or _CUE.search(item):
            return end.start()
        start = end.end()
    return len(clause)


def _strip_filler_tail(text: str) -> str:
    """``text`` without its trailing copula ("Gentle and calm is" -> "Gentle and calm") or
    a trailing clause of filler ("It hurts, I'd" [rather not] -> "It hurts")."""
    head, comma, tail = text.rpartition(",")
    if comma and _is_filler(tail):
        text = head
    words = list(_WORD.finditer(text))
    while words and words[-1].group().lower() in _COPULA:
        words.pop()
    return text[: words[-1].end()].strip(" ,.;:?!'\"") if words else ""
