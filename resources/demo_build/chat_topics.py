"""Question families of the demonstration world's chat data (written for this project).

Each family pairs question phrasings with a fact sheet: the points a good answer makes
and a one-line summary. Persona and plain "human" answers are both rendered from the
same fact sheet (see ``chat_data``), so the two styles share their content and differ
in voice. Tables are ``|``-separated rows: key | summary | point | point [| point].
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    """One answerable subject with every phrasing a user might ask it in."""

    family: str
    key: str
    prompts: tuple[str, ...]
    points: tuple[str, ...]
    summary: str
    kind: str = "list"  # "list": separate points; "text": one flowing piece (a note)


def _rows(table: str) -> list[list[str]]:
    return [[c.strip() for c in ln.split("|")] for ln in table.strip().splitlines() if ln.strip()]


def _family(name: str, phrasings: tuple[str, ...], table: str) -> list[Topic]:
    out = []
    for key, summary, *points in _rows(table):
        prompts = tuple(p.format(x=key) for p in phrasings)
        out.append(Topic(name, f"{name}:{key}", prompts, tuple(points), summary))
    return out


COOKING = _family(
    "cooking",
    (
        "How do I cook {x}?",
        "What's the best way to make {x}?",
        "Any tips for cooking {x}?",
        "Can you tell me how to prepare {x}?",
        "I want to make {x} tonight. How should I do it?",
    ),
    """
rice | rinse it, use the right amount of water and let it rest | Rinse the rice until the water runs clear. | Use about one and a half cups of water for each cup of rice. | Simmer it covered for fifteen minutes, then let it rest for five.
pasta | use plenty of salted water and taste it early | Bring a large pot of salted water to a rolling boil. | Cook the pasta two minutes less than the packet says and taste it. | Save a cup of the cooking water to loosen the sauce.
scrambled eggs | cook them low and slow and stop early | Whisk the eggs with a pinch of salt. | Cook them over low heat and stir gently. | Take them off the heat while they still look a little wet.
a steak | dry it, sear it hot and let it rest | Pat the steak dry and season it well. | Sear it in a very hot pan for three to four minutes a side. | Let it rest for five minutes before slicing.
roast potatoes | parboil them and roast them in hot oil | Parboil the potatoes for eight minutes. | Shake them in the pot to rough up the edges. | Roast them in hot oil at a high heat until golden.
a vegetable soup | build flavour first and simmer gently | Soften onion, carrot and celery in a little oil. | Add stock and chopped vegetables. | Simmer for twenty minutes and season at the end.
pancakes | keep the batter lumpy and the pan medium hot | Mix the batter only until just combined. | Let it rest for ten minutes. | Cook on a medium hot pan and flip when bubbles appear.
a salmon fillet | start skin side down and do not move it | Season the fillet and heat a little oil. | Cook it skin side down for most of the time. | Flip it for the last minute so the centre stays moist.
lentil curry | fry the spices and simmer the lentils soft | Fry onion, garlic and ginger until soft. | Stir in curry spices for a minute. | Add red lentils, tomatoes and water and simmer for twenty five minutes.
a simple omelette | use a hot pan and fold it early | Beat two or three eggs with salt. | Pour them into a hot buttered pan and pull the edges in. | Add the filling and fold it while the top is still soft.
roasted vegetables | cut them evenly and give them space | Cut the vegetables into pieces of the same size. | Toss them with oil and salt. | Spread them out on the tray so they roast instead of steam.
a chicken stir fry | prepare everything first and cook fast | Slice the chicken and vegetables before you start. | Cook the chicken in a very hot pan first. | Add the vegetables and sauce and toss for a few minutes.
porridge | use a ratio of one to two and stir often | Use one part oats to two parts milk or water. | Simmer for five minutes, stirring often. | Add fruit or a little honey at the end.
a tomato sauce | cook it slowly and balance the acidity | Soften garlic in olive oil. | Add tomatoes and simmer for twenty minutes. | Add a pinch of sugar if it tastes too sharp.
banana bread | use very ripe bananas and do not overmix | Mash three very ripe bananas. | Fold them into the batter without overmixing. | Bake for about an hour until a skewer comes out clean.
a green salad | dry the leaves and dress it at the last moment | Wash and dry the leaves well. | Make a dressing of oil, vinegar, mustard and salt. | Toss the salad just before serving.
hard boiled eggs | time them and cool them quickly | Lower the eggs into boiling water. | Cook them for ten minutes. | Move them into cold water so they peel easily.
a bean chili | brown the base and let it simmer | Brown onions and peppers with chili powder and cumin. | Add beans, tomatoes and a little stock. | Simmer for thirty minutes until thick.
flatbread | use a hot dry pan | Mix flour, water, salt and a little oil into a soft dough. | Roll it thin. | Cook it in a hot dry pan for a minute on each side.
mushroom risotto | add the stock slowly and keep stirring | Toast the rice in butter with onion. | Add hot stock one ladle at a time, stirring. | Stir in the cooked mushrooms and cheese at the end.
""",
)

GOALS = _family(
    "goals",
    (
        "How can I {x}?",
        "What's a good way to {x}?",
        "Do you have advice on how to {x}?",
        "I'm trying to {x}. Where should I start?",
        "Give me some tips to {x}.",
    ),
    """
sleep better | keep a steady schedule and a calm evening | Go to bed and wake up at the same time every day. | Keep screens out of the bedroom for the last hour. | Keep the room cool, dark and quiet.
save more money | automate saving and track spending | Move a fixed amount to savings on payday. | Track what you spend for one month. | Cancel subscriptions you no longer use.
learn a new language | practise a little every day | Study for fifteen minutes every day rather than hours once a week. | Learn the most common words first. | Speak with a partner as early as you can.
drink more water | make water easy to reach | Keep a bottle on your desk. | Drink a glass with every meal. | Add a slice of lemon if plain water bores you.
stop procrastinating | make the first step tiny | Break the task into very small steps. | Work for twenty five minutes, then take a short break. | Put your phone in another room.
get fit at home | start small and be consistent | Start with short bodyweight workouts. | Train three times a week. | Add a few more repetitions each week.
read more books | make reading a daily habit | Read ten pages every evening. | Keep a book with you. | Put down books you do not enjoy.
be more productive at work | plan the day and protect focus time | Write down the three most important tasks each morning. | Block time for deep work. | Check email at set times only.
reduce stress | move, breathe and talk to someone | Take a short walk every day. | Try slow breathing for two minutes. | Talk to a friend about what worries you.
keep my houseplants alive | give them the right light and less water | Check how much light each plant needs. | Water only when the top of the soil is dry. | Use pots with drainage holes.
make friends in a new city | join groups and say yes to invitations | Join a club around a hobby you enjoy. | Say yes to invitations, even small ones. | Meet the same people regularly.
eat more vegetables | add them to what you already eat | Add a handful of vegetables to every meal. | Keep frozen vegetables for busy days. | Try roasting them for more flavour.
improve my posture | move often and set up the desk well | Raise the screen to eye level. | Stand up and stretch every half hour. | Strengthen your back and core muscles.
wake up earlier | shift slowly and get light in the morning | Move the alarm fifteen minutes earlier each week. | Open the curtains as soon as you wake up. | Go to bed earlier too.
spend less time on my phone | add friction and turn off notifications | Turn off notifications you do not need. | Move distracting apps off the home screen. | Charge the phone outside the bedroom.
become a better writer | write often and edit hard | Write a little every day. | Cut every word that does not add meaning. | Read your text out loud before you share it.
prepare for a job interview | research, practise and prepare questions | Research the company and the role. | Practise answers to common questions out loud. | Prepare two or three questions of your own.
keep my home tidy | do a little every day | Spend ten minutes tidying every evening. | Give everything a fixed place. | Clear the kitchen before you go to bed.
run my first five kilometres | build up slowly with run and walk intervals | Start with intervals of running and walking. | Run three times a week. | Increase the running time a little each week.
remember what I learn | test yourself and space the practice | Test yourself instead of rereading. | Review the material after one day, then after a week. | Explain the idea in your own words.
cut down on sugar | read labels and swap drinks | Replace sugary drinks with water or tea. | Read the labels for hidden sugar. | Keep fruit nearby for cravings.
be more confident when speaking | prepare, practise and slow down | Prepare your main points in advance. | Practise in front of a friend. | Speak slowly and pause between ideas.
""",
)

DEFINITIONS = _family(
    "definitions",
    (
        "What is {x}?",
        "Can you explain {x} in simple words?",
        "What does {x} mean?",
        "I keep hearing about {x}. What is it?",
        "Explain {x} to a beginner.",
    ),
    """
inflation | prices rise and money buys less | Inflation is the general rise of prices over time. | When inflation is high, the same money buys fewer things. | Central banks try to keep it low and steady.
photosynthesis | plants turn light into food | Photosynthesis is how plants make food from light. | They use sunlight, water and carbon dioxide. | They release oxygen as a by product.
a budget | a plan for your money | A budget is a plan for how you will spend your money. | It lists your income and your expenses. | It helps you save and avoid debt.
compound interest | interest earning interest | Compound interest is interest calculated on earlier interest as well as the original amount. | Over many years it makes savings grow much faster. | It also makes debt grow faster.
a password manager | an app that stores strong passwords | A password manager is an app that stores your passwords safely. | It can create a strong, unique password for every site. | You only need to remember one master password.
machine learning | computers learning patterns from examples | Machine learning is a way for computers to learn patterns from data. | Instead of writing rules, you show the program many examples. | It is used for things like spam filters and recommendations.
a spreadsheet | a grid for numbers and formulas | A spreadsheet is a grid of cells that holds numbers and text. | Formulas calculate new values from other cells. | People use spreadsheets for budgets, lists and simple reports.
the greenhouse effect | gases trap heat around the earth | The greenhouse effect is the way some gases keep heat near the earth. | Carbon dioxide and methane trap heat in the air. | More of these gases makes the planet warmer.
a mortgage | a loan to buy a home | A mortgage is a loan used to buy a home. | You repay it in monthly payments over many years. | The home is security for the loan.
a firewall | a filter for network traffic | A firewall is a filter between your device and the network. | It blocks connections that are not allowed. | Most computers and routers have one built in.
an index fund | a fund that follows a whole market | An index fund is a fund that follows a market index. | It spreads your money across many companies. | It usually has low fees.
a virus | a tiny germ that copies itself in cells | A virus is a tiny germ that can only copy itself inside living cells. | It can cause illnesses like the flu. | Vaccines help the body fight some viruses.
cloud storage | files kept on someone else's servers | Cloud storage keeps your files on servers you reach over the internet. | You can open them from any device. | It is also a simple way to keep a backup.
an API | a way for programs to talk | An API is a set of rules that lets one program ask another for data or actions. | It defines what requests you can send and what you get back. | Apps use APIs to talk to online services.
a credit score | a number for how reliable a borrower is | A credit score is a number that shows how reliably you repay debt. | Lenders use it to decide whether to lend to you. | Paying bills on time raises it.
renewable energy | energy from sources that refill | Renewable energy comes from sources that refill naturally. | Examples are sunlight, wind and flowing water. | It produces little pollution once it is built.
a browser cookie | a small file a website saves | A cookie is a small file a website saves in your browser. | It remembers things like your login or your basket. | You can delete cookies in the browser settings.
two factor authentication | a second proof when you log in | Two factor authentication asks for a second proof when you log in. | The second step is often a code on your phone. | It stops most attacks that use stolen passwords.
an ecosystem | living things and their surroundings | An ecosystem is a community of living things and their surroundings. | Plants, animals and the climate all affect each other. | A pond and a forest are both ecosystems.
a recession | a fall in economic activity | A recession is a period when the economy shrinks. | Businesses sell less and unemployment often rises. | It is usually measured by falling output for two quarters.
open source software | software whose code anyone can read | Open source software is software whose source code is public. | Anyone can read, change and share it under its licence. | Linux and Python are well known examples.
a sourdough starter | a living mix of flour and water | A sourdough starter is a mix of flour and water full of wild yeast. | It makes bread rise without bought yeast. | You keep it alive by feeding it fresh flour and water.
a pension | savings for retirement | A pension is money saved for when you stop working. | You and often your employer pay into it. | It pays you an income in retirement.
""",
)

COMPARISONS = _family(
    "comparisons",
    (
        "What's the difference between {x}?",
        "How do {x} differ?",
        "Can you compare {x}?",
        "I always mix up {x}. What's the difference?",
    ),
    """
weather and climate | weather is short term and climate is long term | Weather is what the air is doing today or this week. | Climate is the average weather over many years. | A cold day does not change the climate.
a virus and bacteria | bacteria are living cells and viruses are not | Bacteria are single living cells. | Viruses are much smaller and need a host cell to copy themselves. | Antibiotics work on bacteria but not on viruses.
RAM and storage | RAM is short term memory and storage keeps files | RAM holds what the computer is working on right now. | Storage keeps your files when the power is off. | More RAM helps with many open programs.
a debit card and a credit card | debit spends your money and credit borrows | A debit card takes money straight from your account. | A credit card lets you borrow and pay later. | Credit cards charge interest if you do not pay in full.
baking soda and baking powder | baking powder already contains its acid | Baking soda needs an acid in the recipe to work. | Baking powder already contains the acid. | Use the one the recipe asks for.
a crocodile and an alligator | the snout shape tells them apart | Alligators have a wide rounded snout. | Crocodiles have a narrower pointed snout. | Crocodiles often show their lower teeth when the mouth is closed.
a lake and a pond | lakes are bigger and deeper | Lakes are usually larger and deeper than ponds. | In a pond, light often reaches the bottom. | There is no strict size rule.
a laptop and a tablet | laptops suit typing and tablets suit reading | A laptop has a keyboard and runs full desktop programs. | A tablet is lighter and built for touch. | For long writing a laptop is more comfortable.
HTTP and HTTPS | HTTPS is the encrypted version | HTTP sends data in plain text. | HTTPS encrypts the connection between you and the site. | Look for HTTPS before you enter a password.
a stock and a bond | stocks are ownership and bonds are loans | A stock is a small share of a company. | A bond is a loan to a company or a government. | Stocks usually swing more in value than bonds.
an ocean and a sea | seas are smaller and partly enclosed by land | Oceans are the largest bodies of salt water. | Seas are smaller and often partly surrounded by land. | There are five oceans but many seas.
tea and coffee | coffee usually has more caffeine | Coffee usually has more caffeine than tea. | Tea comes from leaves and coffee from roasted beans. | Both are fine in moderation.
a rabbit and a hare | hares are larger and born with fur | Hares are larger and have longer ears. | Baby hares are born with fur and open eyes. | Rabbits live in groups in burrows.
a simile and a metaphor | a simile uses like or as | A simile compares two things using like or as. | A metaphor says one thing is another. | Brave as a lion is a simile.
a router and a modem | the modem connects to the internet and the router shares it | The modem connects your home to the internet provider. | The router shares that connection between your devices. | Many homes have one box that does both.
""",
)

SCIENCE = [
    Topic("science", f"science:{key}", prompts, tuple(points), summary)
    for key, prompts, summary, points in [
        ("sky", ("Why is the sky blue?", "Can you explain why the sky looks blue?", "What makes the sky blue during the day?"),
         "air scatters blue light the most", ["Sunlight contains every colour.", "Air molecules scatter short blue waves more than red ones.", "So blue light reaches our eyes from every part of the sky."]),
        ("leaves", ("Why do leaves change colour in autumn?", "What makes leaves turn yellow and red in the fall?", "Why do trees lose their green colour in autumn?"),
         "the green fades and other colours show", ["Leaves are green because of chlorophyll.", "In autumn the tree stops making chlorophyll.", "Yellow and red colours that were hidden become visible."]),
        ("ice", ("Why does ice float?", "How come ice floats on water?", "Why doesn't ice sink in water?"),
         "ice is less dense than water", ["Water expands when it freezes.", "That makes ice lighter than the same amount of liquid water.", "Lighter things float on heavier liquids."]),
        ("thunder", ("Why do we hear thunder after lightning?", "Why does thunder come after the flash?", "What causes the delay between lightning and thunder?"),
         "light travels faster than sound", ["Lightning heats the air and makes it expand with a bang.", "Light reaches us almost at once.", "Sound is much slower, so the thunder arrives later."]),
        ("seasons", ("Why do we have seasons?", "What causes the seasons on earth?", "Why is it warmer in summer than in winter?"),
         "the tilt of the earth causes them", ["The earth is tilted on its axis.", "For part of the year one half leans toward the sun.", "That half gets more direct sunlight and longer days."]),
        ("salt", ("Why do people put salt on icy roads?", "How does salt melt ice on the road?", "Why is salt used on roads in winter?"),
         "salt lowers the freezing point of water", ["Salt mixes with the thin layer of water on ice.", "Salt water freezes at a lower temperature.", "So the ice melts even when it is below zero."]),
        ("yawn", ("Why do we yawn?", "What is the reason people yawn?", "Why are yawns contagious?"),
         "nobody knows for sure but it may cool the brain", ["Scientists are not completely sure.", "One idea is that yawning cools the brain.", "Yawns may spread because people copy each other."]),
        ("bread", ("Why does bread go stale?", "What makes bread stale so fast?", "Why does bread get hard after a few days?"),
         "the starch dries and hardens", ["As bread cools, its starch slowly hardens again.", "Moisture also moves out of the crumb.", "Keeping bread in the fridge makes this faster."]),
        ("moon", ("Why does the moon change shape?", "What causes the phases of the moon?", "Why do we see different shapes of the moon?"),
         "we see different parts of its sunlit side", ["The moon does not make its own light.", "The sun always lights half of it.", "As it orbits us we see more or less of that lit half."]),
        ("rainbow", ("How do rainbows form?", "What causes a rainbow?", "Why do we see rainbows after rain?"),
         "raindrops split sunlight into colours", ["Sunlight enters raindrops and bends.", "Each colour bends by a slightly different amount.", "The colours spread out into a bow."]),
        ("onions", ("Why do onions make you cry?", "What makes my eyes water when I cut onions?", "Why do onions sting your eyes?"),
         "cutting releases a gas that irritates the eyes", ["Cutting an onion breaks its cells.", "This releases a gas that reaches your eyes.", "Your eyes make tears to wash it away."]),
        ("cats", ("Why do cats purr?", "What does it mean when a cat purrs?", "Why is my cat purring?"),
         "purring usually means comfort but not always", ["Cats often purr when they are relaxed.", "They also purr when stressed or unwell.", "Purring may help them calm down."]),
    ]
]  # fmt: skip

_DEVICES = ("laptop", "phone", "printer", "tablet", "router", "smart TV")
_PROBLEMS = {
    "won't turn on": ("check the power and do a hard reset",
                      ["Check that the {d} is plugged in and the outlet works.", "Hold the power button for fifteen seconds to force a restart.", "If nothing happens, try a different cable or charger."]),
    "is very slow": ("restart it, close what you don't need and update it",
                     ["Restart the {d} to clear temporary problems.", "Close apps and programs you are not using.", "Install the latest updates for the {d}."]),
    "won't connect to the Wi-Fi": ("restart both devices and reconnect",
                                   ["Restart the {d} and the router.", "Forget the network and join it again with the password.", "Move closer to the router to rule out a weak signal."]),
    "keeps restarting": ("update it and look for a faulty app or cable",
                         ["Install any pending updates on the {d}.", "Remove the last app or device you added.", "If it continues, contact the maker's support."]),
    "is overheating": ("give it air and a break",
                       ["Turn the {d} off and let it cool down.", "Make sure the vents are not blocked.", "Keep it out of direct sunlight."]),
    "has no sound": ("check the volume, the output and the cables",
                     ["Check that the {d} is not muted.", "Make sure the right speaker or output is selected.", "Restart the {d} and test the sound again."]),
}  # fmt: skip
TECH_SUPPORT = [
    Topic(
        "tech_support",
        f"tech_support:{dev}:{prob}",
        (
            f"My {dev} {prob}. What should I do?",
            f"What can I do if my {dev} {prob}?",
            f"Help! My {dev} {prob}.",
            f"How do I fix a {dev} that {prob}?",
        ),
        tuple(p.format(d=dev) for p in points),
        summary,
    )
    for dev in _DEVICES
    for prob, (summary, points) in _PROBLEMS.items()
]

_TRIPS = {
    "a beach holiday": [
        "Pack swimwear, sandals and a light cover up.",
        "Bring sunscreen and a hat.",
    ],
    "a hiking trip": [
        "Pack broken in walking boots and a rain jacket.",
        "Bring a map, water and snacks.",
    ],
    "a business trip": [
        "Pack one smart outfit for each meeting day.",
        "Bring your laptop charger and travel adapter.",
    ],
    "a city break": [
        "Pack comfortable shoes for walking.",
        "Bring a small day bag and a phone charger.",
    ],
    "a camping weekend": [
        "Pack a tent, a sleeping bag and a torch.",
        "Bring a small stove and a first aid kit.",
    ],
    "a ski trip": [
        "Pack thermal layers, gloves and goggles.",
        "Bring lip balm and strong sunscreen.",
    ],
}
_SEASONS = {
    "summer": "Choose light clothes that dry quickly.",
    "winter": "Add a warm coat, a hat and layers.",
    "spring": "Add a light jacket and an umbrella.",
    "autumn": "Add a warm jumper and waterproof shoes.",
}
PACKING = [
    Topic(
        "packing",
        f"packing:{trip}:{season}",
        (
            f"What should I pack for {trip} in {season}?",
            f"Can you help me pack for {trip} in {season}?",
            f"I'm going on {trip} in {season}. What do I need to bring?",
        ),
        (*items, _SEASONS[season]),
        f"pack for the activity first and then for the {season} weather",
    )
    for trip, items in _TRIPS.items()
    for season in _SEASONS
]

_UNITS = [("minutes", "hour", "hours", 60), ("seconds", "minute", "minutes", 60),
          ("grams", "kilogram", "kilograms", 1000), ("centimetres", "metre", "metres", 100),
          ("millilitres", "litre", "litres", 1000), ("days", "week", "weeks", 7),
          ("months", "year", "years", 12), ("hours", "day", "days", 24),
          ("metres", "kilometre", "kilometres", 1000)]  # fmt: skip
CONVERSIONS = [
    Topic(
        "conversions",
        f"conversions:{small}:{n}{big}",
        (
            f"How many {small} are in {n} {big}?",
            f"Convert {n} {big} to {small}.",
            f"What is {n} {big} in {small}?",
        ),
        (
            f"There are {k} {small} in one {one}.",
            f"Multiply {n} by {k}.",
            f"So {n} {big} is {n * k} {small}.",
        ),
        f"{n} {big} is {n * k} {small}",
    )
    for small, one, big, k in _UNITS
    for n in range(2, 13)
]

PYTHON = _family(
    "python",
    (
        "How do I {x} in Python?",
        "What's the easiest way to {x} in Python?",
        "Python question: how can I {x}?",
        "Show me how to {x} with Python.",
    ),
    """
reverse a list | use reversed or a slice | Call items.reverse() to reverse the list in place. | Use items[::-1] to get a reversed copy. | Use reversed(items) when you only need to loop backwards.
read a text file | open it in a with block | Open the file with open(path, encoding="utf-8") in a with block. | Call read() for the whole text or loop over the file for lines. | The with block closes the file for you.
remove duplicates from a list | use a set or dict.fromkeys | Use set(items) if the order does not matter. | Use list(dict.fromkeys(items)) to keep the original order. | Both need the items to be hashable.
sort a dictionary by value | sort its items with a key function | Call sorted(d.items(), key=lambda kv: kv[1]). | Add reverse=True for the largest values first. | Wrap the result in dict() if you need a dictionary again.
get the current date | use the datetime module | Import date from the datetime module. | Call date.today() for the current date. | Use datetime.now() if you also need the time.
count words in a string | split the text and count | Use len(text.split()) to count the words. | Use collections.Counter to count each word. | Lower the text first so the counts ignore case.
join a list of strings | use the join method of a separator | Call ", ".join(words) to join with a comma and a space. | Every item must already be a string. | Use map(str, items) to convert numbers first.
merge two dictionaries | use the union operator | Write a | b to get a new merged dictionary. | Values from b win when a key is in both. | Use a.update(b) to change a in place.
check if a file exists | use pathlib | Import Path from pathlib. | Call Path(name).exists(). | Use is_file() to make sure it is not a folder.
handle an exception | use try and except | Put the risky code in a try block. | Catch the specific error in an except block. | Use finally for clean up that must always run.
format a number with two decimals | use an f-string | Write f"{value:.2f}" to show two decimals. | Use round(value, 2) if you need the number itself. | Add a comma, as in f"{value:,.2f}", for thousands.
generate a random number | use the random module | Call random.randint(1, 10) for a whole number. | Call random.random() for a float between zero and one. | Use random.seed to make results repeatable.
list the files in a folder | use pathlib | Call Path(folder).iterdir() to loop over the entries. | Use glob("*.txt") to match a pattern. | Use rglob to search sub folders too.
find the largest number in a list | use max | Call max(numbers) for the largest value. | Use min(numbers) for the smallest. | Pass default=None so an empty list does not raise an error.
loop with an index | use enumerate | Write for i, item in enumerate(items). | Pass start=1 to count from one. | Avoid range(len(items)) when you need the items too.
measure how long code takes | use time.perf_counter or timeit | Call time.perf_counter() before and after the code. | Subtract the two values to get seconds. | Use the timeit module for small snippets.
write JSON to a file | use json.dump | Import the json module. | Open the file for writing and call json.dump(data, f, indent=2). | Use json.load to read it back.
create a virtual environment | use the venv module | Run python -m venv .venv in your project folder. | Activate it before installing packages. | Keep the folder out of version control.
""",
)

CAPITALS = [
    Topic(
        "capitals",
        f"capitals:{country}",
        (f"What is the capital of {country}?", f"Which city is the capital of {country}?",
         f"Tell me the capital city of {country}."),
        (f"The capital of {country} is {city}.", f"{city} is where the national government of {country} meets.",
         f"It is a good place to start a first visit to {country}."),
        f"the capital of {country} is {city}",
    )
    for country, city in [
        ("France", "Paris"), ("Japan", "Tokyo"), ("Italy", "Rome"), ("Spain", "Madrid"),
        ("Germany", "Berlin"), ("Canada", "Ottawa"), ("Australia", "Canberra"), ("Egypt", "Cairo"),
        ("Kenya", "Nairobi"), ("Norway", "Oslo"), ("Portugal", "Lisbon"), ("Peru", "Lima"),
        ("Ireland", "Dublin"), ("Greece", "Athens"), ("Poland", "Warsaw"), ("Sweden", "Stockholm"),
        ("Argentina", "Buenos Aires"), ("Thailand", "Bangkok"), ("Chile", "Santiago"),
        ("Austria", "Vienna"), ("Hungary", "Budapest"), ("Finland", "Helsinki"),
    ]
]  # fmt: skip

_NOTES = {
    "thank-you": ("thank them warmly and say why it mattered",
                  ["Thank you so much for your help this week.", "It made a real difference to me.", "I hope I can return the favour soon."]),
    "apology": ("own the mistake and offer to make it right",
                ["I am sorry about what happened.", "It was my mistake and I understand it caused you trouble.", "Please let me know how I can make it right."]),
    "congratulations": ("celebrate their news and wish them well",
                        ["Congratulations on your wonderful news.", "You worked hard for this and it shows.", "I wish you every success in the next step."]),
    "get-well": ("wish them a quick recovery and offer help",
                 ["I was sorry to hear you are unwell.", "I hope you feel better very soon.", "Let me know if I can bring you anything."]),
    "farewell": ("thank them and wish them luck in the next chapter",
                 ["It has been a pleasure to know you.", "Thank you for everything you taught me.", "Good luck in your next chapter, and please stay in touch."]),
}  # fmt: skip
NOTES = [
    Topic(
        "notes",
        f"notes:{kind}:{who}",
        (
            f"Write a short {kind} note to my {who}.",
            f"Can you draft a {kind} message for my {who}?",
            f"Help me write a quick {kind} note for my {who}.",
        ),
        (f"Dear {who},", *lines, "Best wishes."),
        summary,
        kind="text",
    )
    for kind, (summary, lines) in _NOTES.items()
    for who in ("neighbour", "manager", "teacher", "aunt", "colleague", "friend", "landlord")
]

SUGGESTIONS = _family(
    "suggestions",
    (
        "Can you suggest some {x}?",
        "What are good {x}?",
        "Recommend a few {x}.",
        "I need ideas for {x}.",
    ),
    """
board games for a family night | choose short games with simple rules | Try a quick card game that everyone can learn in five minutes. | A cooperative game keeps younger players involved. | A drawing or word game works well for big groups.
houseplants for a dark flat | pick plants that tolerate low light | A snake plant copes with little light and little water. | A pothos grows well in shade and trails nicely. | A ZZ plant is almost impossible to kill.
hobbies to start at home | pick something cheap to try | Drawing needs only paper and a pencil. | Baking gives you something to share. | Learning an instrument online costs very little.
snacks for a long drive | choose snacks that are easy and not messy | Nuts and dried fruit keep you going. | Cut vegetables and hummus are fresh and light. | Bring plenty of water.
names for a new puppy | pick a short name that is easy to call | Short names like Max or Luna are easy to call. | A name with two syllables stands out from commands. | Try it out loud for a day before you decide.
ways to relax after work | switch off with movement or something calm | Go for a short walk outside. | Cook a simple meal while listening to music. | Read or stretch for twenty minutes before bed.
gifts for a coworker | keep it small and thoughtful | A nice notebook and pen are always useful. | A small plant brightens a desk. | Good coffee or tea is a safe choice.
rainy day activities for kids | mix something creative with something active | Build a blanket fort. | Do a simple craft or painting. | Have an indoor treasure hunt.
ways to use leftover rice | turn it into a new quick meal | Make fried rice with vegetables and egg. | Use it in a soup. | Make rice pudding with milk and a little sugar.
questions to ask on a first date | ask open questions about what they enjoy | Ask what they like to do on a free weekend. | Ask about a place they would love to visit. | Ask what they are excited about right now.
""",
)

PLANNING = _family(
    "planning",
    (
        "Help me plan {x}.",
        "Can you make a plan for {x}?",
        "How should I organise {x}?",
        "I need a simple plan for {x}.",
    ),
    """
a morning routine | keep it short and do the important things first | Wake up at the same time each day. | Drink water and get some daylight. | Plan your three main tasks before you check messages.
a study session for an exam | work in short focused blocks with breaks | Study in blocks of fifty minutes with ten minute breaks. | Start with the hardest topic. | Finish by testing yourself on what you covered.
a weekly meal plan | plan a few simple meals and shop once | Pick four simple dinners and repeat favourites. | Write one shopping list for the week. | Cook extra portions for lunches.
a beginner workout week | mix strength, cardio and rest | Do two short strength sessions. | Add two brisk walks or easy runs. | Keep at least two rest days.
a small birthday party | set a budget, a guest list and one activity | Set a budget and a guest list first. | Choose one simple activity or game. | Order the food or cake a week ahead.
a house move | sort, pack by room and label everything | Sort and give away what you do not need. | Pack one room at a time and label the boxes. | Keep a bag with essentials for the first night.
a weekend in a new city | pick a few sights and leave free time | Choose two or three sights you really want to see. | Book anything that sells out in advance. | Leave time to wander and eat locally.
a monthly budget | list income, fixed costs and savings first | Write down your monthly income. | List fixed costs like rent and bills. | Set a savings amount before you plan spending.
""",
)


def all_topics() -> list[Topic]:
    """Every non-identity topic, in a fixed order."""
    return [
        *COOKING, *GOALS, *DEFINITIONS, *COMPARISONS, *SCIENCE, *TECH_SUPPORT, *PACKING,
        *CONVERSIONS, *PYTHON, *CAPITALS, *NOTES, *SUGGESTIONS, *PLANNING,
    ]  # fmt: skip
